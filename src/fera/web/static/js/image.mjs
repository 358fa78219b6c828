// Pixels, computed as fera's Python computes them, so the page sees what `fera assist` sees:
// Pillow's antialiased bilinear resize (Image.resize with reducing_gap: Image.reduce, then the fixed-point
// two-pass resample), OpenCV's RGB2GRAY (ITU-R 601-2 luma, fixed point), its border replication and INTER_AREA
// (shrinking) / INTER_LINEAR (enlarging). A frame is {width, height, data, channels}: data holds height rows of
// width pixels of `channels` bytes (4: RGBA as a canvas gives it, the alpha ignored; 1: grey), or null (replays).

export const frameOf = (width, height, data, channels = 4) => ({ width, height, data, channels });

/** The region of a frame as a frame of its own (rows copied; null data stays null). */
export function crop(f, x0, y0, w, h) {
  if (f.data === null) return frameOf(w, h, null, f.channels);
  const c = f.channels, out = new Uint8ClampedArray(w * h * c);
  for (let y = 0; y < h; y++) out.set(f.data.subarray(((y0 + y) * f.width + x0) * c, ((y0 + y) * f.width + x0 + w) * c), y * w * c);
  return frameOf(w, h, out, c);
}

/** Mean of the R, G and B values (what FrameInfo.brightness measures), 0..255. */
export function brightness(f) {
  const d = f.data, c = f.channels;
  let s = 0;
  if (c === 1) { for (let i = 0; i < d.length; i++) s += d[i]; return s / d.length; }
  for (let i = 0; i < d.length; i += c) s += d[i] + d[i + 1] + d[i + 2];
  return s / (3 * f.width * f.height);
}

// ---- Pillow ----------------------------------------------------------------------------------------

const PRECISION_BITS = 22;

/** Pillow's precompute_coeffs for the bilinear filter, then normalize_coeffs_8bpc: [bounds, fixed-point kk, ksize]. */
function coeffs(inSize, in0, in1, outSize) {
  const scale = (in1 - in0) / outSize, filterscale = Math.max(scale, 1.0), support = 1.0 * filterscale;
  const ksize = Math.ceil(support) * 2 + 1, bounds = new Int32Array(outSize * 2), kk = new Int32Array(outSize * ksize);
  const w = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = in0 + (xx + 0.5) * scale, ss = 1.0 / filterscale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0.0;
    for (let x = 0; x < xmax; x++) {
      const t = Math.abs((x + xmin - center + 0.5) * ss);
      w[x] = t < 1.0 ? 1.0 - t : 0.0;
      ww += w[x];
    }
    for (let x = 0; x < xmax; x++) {
      const k = ww !== 0.0 ? w[x] / ww : w[x];
      kk[xx * ksize + x] = k < 0 ? Math.trunc(-0.5 + k * (1 << PRECISION_BITS)) : Math.trunc(0.5 + k * (1 << PRECISION_BITS));
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { bounds, kk, ksize };
}

const clip8 = (v) => (v >= (1 << PRECISION_BITS << 8) ? 255 : v <= 0 ? 0 : v >> PRECISION_BITS);

/** Pillow's Image.reduce((fx, fy)) of a whole image: block means in fixed point; partial edge blocks too. */
function reduce(src, w, h, c, fx, fy, planes) {
  const ow = Math.ceil(w / fx), oh = Math.ceil(h / fy), out = new Uint8ClampedArray(ow * oh * c);
  for (let y = 0; y < oh; y++) {
    const y0 = y * fy, y1 = Math.min(y0 + fy, h);
    for (let x = 0; x < ow; x++) {
      const x0 = x * fx, x1 = Math.min(x0 + fx, w), n = (y1 - y0) * (x1 - x0);
      const multiplier = Math.trunc(Math.fround(4294967296 / Math.fround(256 * n))), amend = Math.trunc(n / 2);
      for (let ch = 0; ch < planes; ch++) {
        let s = amend;
        for (let yy = y0; yy < y1; yy++) for (let xx = x0; xx < x1; xx++) s += src[(yy * w + xx) * c + ch];
        out[(y * ow + x) * c + ch] = Math.floor((s * multiplier) / 16777216);
      }
    }
  }
  return { data: out, w: ow, h: oh };
}

const cache = new Map();
function cachedCoeffs(inSize, in0, in1, outSize) {
  const key = `${inSize},${in0},${in1},${outSize}`;
  let v = cache.get(key);
  if (v === undefined) {
    if (cache.size > 64) cache.clear();
    v = coeffs(inSize, in0, in1, outSize);
    cache.set(key, v);
  }
  return v;
}

/** Pillow's Image.resize((dw, dh), BILINEAR, reducing_gap=gap) of pixels with `c` bytes each (the first `planes`
 * resampled: 1 for grey, 3 for RGB(A)); returns dw x dh pixels with the same layout. */
export function pillowResize(src, w, h, c, dw, dh, gap, planes = Math.min(c, 3)) {
  if (w === dw && h === dh) return Uint8ClampedArray.from(src);
  let box = [0, 0, w, h];
  if (gap != null) {
    const fx = Math.trunc(w / dw / gap) || 1, fy = Math.trunc(h / dh / gap) || 1;
    if (fx > 1 || fy > 1) {
      const r = reduce(src, w, h, c, fx, fy, planes);  // the safe box is the whole image for a whole-image resize
      src = r.data; box = [0, 0, w / fx, h / fy]; w = r.w; h = r.h;
    }
  }
  const H = cachedCoeffs(w, box[0], box[2], dw), V = cachedCoeffs(h, box[1], box[3], dh);
  const needH = dw !== w || box[0] !== 0 || box[2] !== dw, needV = dh !== h || box[1] !== 0 || box[3] !== dh;
  const first = V.bounds[0], last = V.bounds[dh * 2 - 2] + V.bounds[dh * 2 - 1];
  let img = src, iw = w, rowOffset = 0;
  if (needH) {
    const rows = last - first, tmp = new Uint8ClampedArray(dw * rows * c);
    for (let yy = 0; yy < rows; yy++) {
      const line = (yy + first) * w * c;
      for (let xx = 0; xx < dw; xx++) {
        const xmin = H.bounds[xx * 2], xmax = H.bounds[xx * 2 + 1], k = xx * H.ksize;
        for (let ch = 0; ch < planes; ch++) {
          let s = 1 << (PRECISION_BITS - 1);
          for (let x = 0; x < xmax; x++) s += src[line + (x + xmin) * c + ch] * H.kk[k + x];
          tmp[(yy * dw + xx) * c + ch] = clip8(s);
        }
      }
    }
    img = tmp; iw = dw; rowOffset = first;
  }
  if (!needV) return img;
  const out = new Uint8ClampedArray(iw * dh * c);
  for (let yy = 0; yy < dh; yy++) {
    const ymin = V.bounds[yy * 2] - rowOffset, ymax = V.bounds[yy * 2 + 1], k = yy * V.ksize;
    for (let xx = 0; xx < iw; xx++) {
      for (let ch = 0; ch < planes; ch++) {
        let s = 1 << (PRECISION_BITS - 1);
        for (let y = 0; y < ymax; y++) s += img[((y + ymin) * iw + xx) * c + ch] * V.kk[k + y];
        out[(yy * iw + xx) * c + ch] = clip8(s);
      }
    }
  }
  return out;
}

// ---- OpenCV ----------------------------------------------------------------------------------------

/** cv2.cvtColor(RGB2GRAY) of a region (OpenCV 4.9+/5: 15-bit luma weights), with cv2.copyMakeBorder(BORDER_REPLICATE) for what lies outside the
 * frame: a side x side grey square whose top-left corner is (x0, y0) (fera.runtime.classify.square_face). */
export function greySquare(f, x0, y0, side) {
  const out = new Uint8ClampedArray(side * side), c = f.channels, d = f.data;
  for (let y = 0; y < side; y++) {
    const sy = Math.min(Math.max(y0 + y, 0), f.height - 1);
    for (let x = 0; x < side; x++) {
      const sx = Math.min(Math.max(x0 + x, 0), f.width - 1), i = (sy * f.width + sx) * c;
      out[y * side + x] = c === 1 ? d[i] : (d[i] * 9798 + d[i + 1] * 19235 + d[i + 2] * 3735 + 16384) >> 15;
    }
  }
  return out;
}

const cvRound = (v) => { const r = Math.round(v); return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r; };

/** cv2.resize(INTER_AREA) of a grey image to a smaller one: each output pixel the area-weighted mean (an integer
 * factor: the block mean, halves rounded up for 2 x 2 as OpenCV's vector code does, else to even). */
export function areaResize(src, w, h, dw, dh) {
  const sx = w / dw, sy = h / dh, out = new Uint8ClampedArray(dw * dh), whole = Number.isInteger(sx) && Number.isInteger(sy);
  const spans = (n, s, len) => Array.from({ length: n }, (_, i) => {
    const a = i * s, b = Math.min((i + 1) * s, len), parts = [];
    for (let j = Math.floor(a); j < Math.ceil(b - 1e-9); j++) parts.push([j, Math.min(b, j + 1) - Math.max(a, j)]);
    return parts;
  });
  const xs = spans(dw, sx, w), ys = spans(dh, sy, h);
  for (let y = 0; y < dh; y++) {
    for (let x = 0; x < dw; x++) {
      let s = 0;
      for (const [j, wy] of ys[y]) for (const [i, wx] of xs[x]) s += src[j * w + i] * wx * wy;
      const v = s / (sx * sy);
      out[y * dw + x] = whole ? (sx * sy === 4 ? Math.floor(v + 0.5) : cvRound(v)) : Math.round(v - 1e-9);
    }
  }
  return out;
}

/** cv2.resize(INTER_LINEAR) of a grey image (fera enlarges with it): 11-bit weights per axis, the vertical pass as
 * OpenCV's vector code rounds it. */
export function linearResize(src, w, h, dw, dh) {
  const out = new Uint8ClampedArray(dw * dh);
  const taps = (n, len) => {
    const scale = 1 / (n / len);
    return Array.from({ length: n }, (_, i) => {
      let f = Math.fround((i + 0.5) * scale - 0.5), j = Math.floor(f);
      f = Math.fround(f - j);
      if (j < 0) { f = 0; j = 0; }
      if (j >= len - 1) { f = 0; j = len - 1; }
      return [j, Math.min(j + 1, len - 1), cvRound(Math.fround(1 - f) * 2048), cvRound(f * 2048)];
    });
  };
  const xs = taps(dw, w), ys = taps(dh, h);
  for (let y = 0; y < dh; y++) {
    const [j0, j1, b0, b1] = ys[y];
    for (let x = 0; x < dw; x++) {
      const [i0, i1, a0, a1] = xs[x];
      const r0 = src[j0 * w + i0] * a0 + src[j0 * w + i1] * a1, r1 = src[j1 * w + i0] * a0 + src[j1 * w + i1] * a1;
      out[y * dw + x] = ((((r0 >> 4) * b0) >> 16) + (((r1 >> 4) * b1) >> 16) + 2) >> 2;
    }
  }
  return out;
}

/** fera.images.resize_gray: "area" (OpenCV, INTER_AREA shrinking, INTER_LINEAR enlarging) or "bilinear" (Pillow). */
export function resizeGrey(src, w, h, dw, dh, method) {
  if (w === dw && h === dh) return src;
  if (method === "area") return w >= dw && h >= dh ? areaResize(src, w, h, dw, dh) : linearResize(src, w, h, dw, dh);
  if (method === "bilinear") return pillowResize(src, w, h, 1, dw, dh, 2.0, 1);
  throw new Error(`unsupported model preprocessing resize ${JSON.stringify(method)} (the page supports area, bilinear)`);
}
