// Face detection: MediaPipe BlazeFace as fera.runtime.detect runs it (letterbox to the model's square input in
// [-1, 1], SSD anchors, box and keypoint decoding, sigmoid scores, weighted non-maximum suppression, the letterbox
// undone). The network itself is `run(tensor) -> {regressors, logits}` (onnxruntime-web in the page).
import { pillowResize } from "./image.mjs";
import { pyRound } from "./geometry.mjs";

export const MODELS = {
  short: { inputSize: 128, strides: [8, 16, 16, 16], interpolated: 1.0, anchors: 896 },
  full: { inputSize: 192, strides: [4], interpolated: 0.0, anchors: 2304 },
};
const SCORE_CLIPPING_THRESH = 100.0, NUM_KEYPOINTS = 6;

/** Anchor centres [x, y] in [0, 1] in SsdAnchorsCalculator order (fera.runtime.detect.ssd_anchors), float32. */
export function ssdAnchors(size, strides, interpolated, offset = 0.5) {
  const out = [];
  let layer = 0;
  while (layer < strides.length) {
    let perCell = 0, last = layer;
    while (last < strides.length && strides[last] === strides[layer]) { perCell += 1 + (interpolated > 0); last += 1; }
    const fm = Math.ceil(size / strides[layer]);
    for (let y = 0; y < fm; y++) for (let x = 0; x < fm; x++) {
      for (let k = 0; k < perCell; k++) out.push([Math.fround((x + offset) / fm), Math.fround((y + offset) / fm)]);
    }
    layer = last;
  }
  return out;
}

/** The letterbox geometry of fera.runtime.detect.letterbox: resized size and padding. */
export function letterboxGeometry(w, h, size) {
  const s = Math.min(size / w, size / h);
  const nw = Math.max(1, pyRound(w * s)), nh = Math.max(1, pyRound(h * s));
  return { nw, nh, px: Math.floor((size - nw) / 2), py: Math.floor((size - nh) / 2) };
}

/** The NHWC float32 input in [-1, 1] of a frame (RGBA or grey pixels), letterboxed as Python does. */
export function letterbox(f, size) {
  const { nw, nh, px, py } = letterboxGeometry(f.width, f.height, size);
  const c = f.channels, pix = nw === f.width && nh === f.height ? f.data : pillowResize(f.data, f.width, f.height, c, nw, nh, 3.0);
  const t = new Float32Array(size * size * 3).fill(-1), k = Math.fround(2.0 / 255.0);
  for (let y = 0; y < nh; y++) {
    for (let x = 0; x < nw; x++) {
      const i = (y * nw + x) * c, o = ((y + py) * size + x + px) * 3;
      if (c === 1) { t[o] = t[o + 1] = t[o + 2] = Math.fround(pix[i] * k) - 1; continue; }
      t[o] = Math.fround(pix[i] * k) - 1; t[o + 1] = Math.fround(pix[i + 1] * k) - 1; t[o + 2] = Math.fround(pix[i + 2] * k) - 1;
    }
  }
  return { tensor: t, sx: nw / f.width, sy: nh / f.height, px, py };
}

function* clusters(boxes, scores, threshold) {
  let order = scores.map((s, i) => [s, i]).sort((a, b) => (b[0] - a[0]) || (a[1] - b[1])).map((p) => p[1]);
  while (order.length) {
    const top = order[0], inC = [], rest = [];
    for (let j = 0; j < order.length; j++) {
      const i = order[j];
      (j === 0 || iouXyxy(boxes[top], boxes[i]) > threshold ? inC : rest).push(i);
    }
    yield [top, inC];
    order = rest;
  }
}

function iouXyxy(a, b) {
  const ix = Math.max(Math.min(a[2], b[2]) - Math.max(a[0], b[0]), 0), iy = Math.max(Math.min(a[3], b[3]) - Math.max(a[1], b[1]), 0);
  const inter = ix * iy, ar = (q) => Math.max(q[2] - q[0], 0) * Math.max(q[3] - q[1], 0), union = ar(a) + ar(b) - inter;
  return union > 0 ? inter / Math.max(union, 1e-12) : 0;
}

/** MediaPipe's weighted non-maximum suppression: [box xyxy, keypoints, score] per cluster, best first. */
export function weightedNms(boxes, kps, scores, threshold, weighted = true) {
  const out = [];
  for (const [top, cl] of clusters(boxes, scores, threshold)) {
    if (!weighted) { out.push([boxes[top], kps[top], scores[top]]); continue; }
    let total = 0;
    for (const i of cl) total += scores[i];
    const box = [0, 0, 0, 0], pts = kps[top].map(() => [0, 0]);
    for (const i of cl) {
      const w = scores[i] / total;
      for (let k = 0; k < 4; k++) box[k] += boxes[i][k] * w;
      kps[i].forEach(([u, v], k) => { pts[k][0] += u * w; pts[k][1] += v * w; });
    }
    out.push([box, pts, scores[top]]);
  }
  return out;
}

export class BlazeFace {
  /** `run(tensor Float32Array of size*size*3) -> Promise<{regressors: Float32Array (N*16), logits: Float32Array (N)}>`. */
  constructor(run, model = "full", { minScore = 0.5, nmsIou = 0.3 } = {}) {
    const spec = MODELS[model];
    if (!spec) throw new Error(`unknown face detector model ${model}`);
    Object.assign(this, { run, model, spec, minScore, nmsIou, inputSize: spec.inputSize,
                          anchors: ssdAnchors(spec.inputSize, spec.strides, spec.interpolated) });
    this.timing = { letterbox: 0, network: 0, decode: 0 };
  }

  /** Faces {box, score, keypoints} in a frame's pixels, best first (BlazeFaceDetector.detect). */
  async detect(f) {
    const size = this.inputSize, t0 = performance.now();
    const { tensor, sx, sy, px, py } = letterbox(f, size);
    const t1 = performance.now();
    const { regressors: reg, logits } = await this.run(tensor);
    const t2 = performance.now();
    const boxes = [], kps = [], scores = [];
    for (let i = 0; i < this.anchors.length; i++) {
      const logit = Math.min(Math.max(logits[i], -SCORE_CLIPPING_THRESH), SCORE_CLIPPING_THRESH);
      const score = 1.0 / (1.0 + Math.exp(-logit));
      if (!(score >= this.minScore)) continue;
      const r = reg.subarray(i * 16, i * 16 + 16), [ax, ay] = this.anchors[i];
      const cx = r[0] / size + ax, cy = r[1] / size + ay, bw = r[2] / size, bh = r[3] / size;
      if (!(bw > 0 && bh > 0)) continue;
      boxes.push([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2]);
      const pts = [];
      for (let k = 0; k < NUM_KEYPOINTS; k++) pts.push([r[4 + 2 * k] / size + ax, r[5 + 2 * k] / size + ay]);
      kps.push(pts);
      scores.push(score);
    }
    const found = weightedNms(boxes, kps, scores, this.nmsIou).map(([b, pts, score]) => {
      const x0 = (b[0] * size - px) / sx, x1 = (b[2] * size - px) / sx, y0 = (b[1] * size - py) / sy, y1 = (b[3] * size - py) / sy;
      return { box: { x: x0, y: y0, w: x1 - x0, h: y1 - y0 }, score,
               keypoints: pts.map(([u, v]) => [(u * size - px) / sx, (v * size - py) / sy]) };
    });
    const t3 = performance.now();
    this.timing.letterbox += t1 - t0; this.timing.network += t2 - t1; this.timing.decode += t3 - t2;
    return found;
  }
}
