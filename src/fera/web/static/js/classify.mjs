// Expression classification (fera.runtime.classify and fera.inference): each face's square crop of margin x the
// box's longer side around its centre, edges repeated, grey (ITU-R 601-2), resized by the model's preprocessing
// record, times its scale, NHWC; then the calibrated probabilities softmax(log(p) / T).
import { cx, cy, pyRound } from "./geometry.mjs";
import { greySquare, resizeGrey } from "./image.mjs";

export const MARGIN = 1.25;

/** [x0, y0, side]: the corner and side of the square crop (square_geometry). */
export function squareGeometry(b, margin = MARGIN) {
  const side = Math.max(2, Math.trunc(pyRound(Math.max(b.w, b.h) * margin)));
  return [Math.trunc(pyRound(cx(b) - side / 2)), Math.trunc(pyRound(cy(b) - side / 2)), side];
}

/** The model's uint8 grey input (h x w) of one face (square_face). */
export function squareFace(f, b, size, resize, margin = MARGIN) {
  const [x0, y0, side] = squareGeometry(b, margin);
  return resizeGrey(greySquare(f, x0, y0, side), side, side, size[1], size[0], resize);
}

/** softmax(log(p) / T) per row, in float32 as fera.inference.calibrate computes it. */
export function calibrate(p, classes, temperature) {
  if (temperature === 1.0) return Float32Array.from(p);
  const out = new Float32Array(p.length), f = Math.fround, t = f(temperature);
  for (let r = 0; r < p.length / classes; r++) {
    const z = new Float32Array(classes);
    for (let k = 0; k < classes; k++) z[k] = f(f(Math.log(Math.min(Math.max(p[r * classes + k], f(1e-12)), 1))) / t);
    let m = -Infinity;
    for (const v of z) m = Math.max(m, v);
    let s = 0;
    for (let k = 0; k < classes; k++) { z[k] = f(Math.exp(f(z[k] - m))); s = f(s + z[k]); }
    for (let k = 0; k < classes; k++) out[r * classes + k] = f(z[k] / s);
  }
  return out;
}

export class Classifier {
  /** `run(Float32Array n*h*w, n) -> Promise<Float32Array n*classes>`, the network's own probabilities; `meta` the
   * model's "fera" metadata record (class names, input size, preprocessing, temperature). */
  constructor(run, meta, { margin = MARGIN } = {}) {
    const p = meta.preprocessing || {};
    if (typeof p.scale !== "number") throw new Error("the model's metadata has no preprocessing record with a scale");
    if ((p.color ?? "grayscale") !== "grayscale" || (p.layout ?? "NHWC") !== "NHWC") {
      throw new Error(`unsupported model preprocessing ${JSON.stringify(p)}`);
    }
    Object.assign(this, { run, meta, margin, classNames: [...meta.class_names], size: meta.input_size,
                          resize: p.resize ?? "bilinear", scale: Math.fround(p.scale),
                          temperature: meta.temperature ?? 1.0 });
    this.timing = { crop: 0, network: 0 };
  }

  /** Calibrated probabilities (one Float32Array per box) for the boxes of a frame. */
  async classify(f, boxes) {
    if (!boxes.length) return [];
    const t0 = performance.now(), [h, w] = this.size, n = boxes.length, x = new Float32Array(n * h * w);
    boxes.forEach((b, i) => {
      const face = squareFace(f, b, this.size, this.resize, this.margin);
      for (let j = 0; j < h * w; j++) x[i * h * w + j] = face[j] * this.scale;
    });
    const t1 = performance.now();
    const raw = await this.run(x, n), k = this.classNames.length, p = calibrate(raw, k, this.temperature);
    this.timing.crop += t1 - t0; this.timing.network += performance.now() - t1;
    return boxes.map((_, i) => p.subarray(i * k, (i + 1) * k));
  }
}
