// Where fera looks for faces (fera.runtime.detect): faces whose keypoints make a face; the zoomed-out pass for a
// face that fills the frame; a photo's whole frame, zoomed-out copy and overlapping tiles.
import { plausible, inside, iou, pyRound } from "./geometry.mjs";
import { crop, frameOf, pillowResize } from "./image.mjs";

export const keepFaces = (dets) => dets.filter((d) => plausible(d.keypoints, d.box.w, d.box.h, d.box.x, d.box.y));

/** The frame shrunk into the middle of a black canvas `factor` times its size, at the detector's input size;
 * faces at least `minSize` of the frame's shorter side, in the frame's pixels (detect_padded). */
export async function detectPadded(detector, f, factor = 2.0, minSize = 0.5) {
  const { width: w, height: h } = f, size = detector.inputSize, s = size / (factor * Math.max(h, w));
  const nw = Math.max(1, pyRound(w * s)), nh = Math.max(1, pyRound(h * s));
  const x0 = Math.floor((size - nw) / 2), y0 = Math.floor((size - nh) / 2);
  let canvas = frameOf(size, size, null, f.channels);
  if (f.data !== null) {
    const c = f.channels, small = pillowResize(f.data, w, h, c, nw, nh, 3.0), data = new Uint8ClampedArray(size * size * c);
    if (c === 4) for (let i = 3; i < data.length; i += 4) data[i] = 255;
    for (let y = 0; y < nh; y++) data.set(small.subarray(y * nw * c, (y + 1) * nw * c), ((y + y0) * size + x0) * c);
    canvas = frameOf(size, size, data, c);
  }
  const sx = nw / w, sy = nh / h, out = [];
  for (const d of await detector.detect(canvas)) {
    if (!(d.box.h / sy >= minSize * Math.min(h, w))) continue;
    out.push({ box: { x: (d.box.x - x0) / sx, y: (d.box.y - y0) / sy, w: d.box.w / sx, h: d.box.h / sy }, score: d.score,
               keypoints: d.keypoints.map(([u, v]) => [(u - x0) / sx, (v - y0) / sy]) });
  }
  return out;
}

/** A camera or video frame: one pass; the zoomed-out pass when it finds none (Assistant._detect). */
export async function detectFrame(detector, f, zoomOut = true) {
  const faces = keepFaces(await detector.detect(f));
  if (zoomOut && !faces.length) {
    for (const d of keepFaces(await detectPadded(detector, f))) if (faces.every((g) => iou(d.box, g.box) <= 0.3)) faces.push(d);
  }
  return faces;
}

/** Plain non-maximum suppression: the best-scoring of overlapping detections, best first. */
export function nms(dets, threshold) {
  let order = dets.map((d, i) => [d.score, i]).sort((a, b) => (b[0] - a[0]) || (a[1] - b[1])).map((p) => p[1]);
  const out = [];
  while (order.length) {
    const top = order[0];
    out.push(dets[top]);
    order = order.filter((i, j) => j !== 0 && !(iou(dets[top].box, dets[i].box) > threshold));
  }
  return out;
}

/** A still photo: whole, zoomed out, then tiles of half, a quarter and an eighth of its shorter side (detect_tiled). */
export async function detectTiled(detector, f, overlap = 0.25, levels = 3, tileMinScore = 0.75) {
  const { width: w, height: h } = f, threshold = detector.nmsIou ?? 0.3;
  let found = nms([...keepFaces(await detector.detect(f)), ...keepFaces(await detectPadded(detector, f))], threshold);
  let side = Math.max(Math.floor(Math.min(h, w) / 2), detector.inputSize);
  const starts = (len, s) => {
    const step = Math.max(1, Math.trunc(s * (1 - overlap))), v = new Set([len - s]);
    for (let a = 0; a <= len - s; a += step) v.add(a);
    return [...v].sort((a, b) => a - b);
  };
  for (let level = 0; level < levels; level++) {
    if (side >= Math.max(h, w) || side < detector.inputSize) break;
    const sx = Math.min(side, w), sy = Math.min(side, h), edge = 0.02 * side, here = [];
    for (const y0 of starts(h, sy)) {
      for (const x0 of starts(w, sx)) {
        for (const d of await detector.detect(crop(f, x0, y0, sx, sy))) {
          const b = d.box;
          if (d.score < tileMinScore || (x0 > 0 && b.x < edge) || (y0 > 0 && b.y < edge)
              || (x0 + sx < w && b.x + b.w > sx - edge) || (y0 + sy < h && b.y + b.h > sy - edge)) continue;
          here.push({ box: { x: b.x + x0, y: b.y + y0, w: b.w, h: b.h }, score: d.score,
                      keypoints: d.keypoints.map(([u, v]) => [u + x0, v + y0]) });
        }
      }
    }
    found = found.concat(nms(keepFaces(here), threshold).filter((d) => found.every((g) => inside(d.box, g.box) < 0.3)));
    side = Math.floor(side / 2);
  }
  return nms(found, threshold);
}
