// Boxes and what a face's six detector keypoints say (fera.runtime.types and fera.runtime.geometry).
// A box is {x, y, w, h} in pixels of the frame; keypoints are six [x, y] pairs in BlazeFace's order
// (right eye, left eye, nose tip, mouth centre, right and left ear tragion) or [] for none.

export const RIGHT_EYE = 0, LEFT_EYE = 1, NOSE = 2, MOUTH = 3, RIGHT_EAR = 4, LEFT_EAR = 5;

export const box = (x, y, w, h) => ({ x, y, w, h });
export const right = (b) => b.x + b.w;
export const bottom = (b) => b.y + b.h;
export const cx = (b) => b.x + b.w / 2;
export const cy = (b) => b.y + b.h / 2;
export const area = (b) => Math.max(0, b.w) * Math.max(0, b.h);

/** Intersection over union of two boxes, as fera.runtime.types.iou_xyxy computes it. */
export function iou(a, b) {
  const ix = Math.max(Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x), 0);
  const iy = Math.max(Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y), 0);
  const inter = ix * iy;
  const ar = (q) => Math.max(q.x + q.w - q.x, 0) * Math.max(q.y + q.h - q.y, 0);
  const union = ar(a) + ar(b) - inter;
  return union > 0 ? inter / Math.max(union, 1e-12) : 0;
}

/** The share of box a that lies inside box b. */
export function inside(a, b) {
  const iw = Math.min(right(a), right(b)) - Math.max(a.x, b.x);
  const ih = Math.min(bottom(a), bottom(b)) - Math.max(a.y, b.y);
  return Math.max(iw, 0) * Math.max(ih, 0) / Math.max(a.w * a.h, 1e-9);
}

export const centreDistance = (a, b) => Math.hypot(cx(a) - cx(b), cy(a) - cy(b));

/** The part of the box inside a width x height frame. */
export function clip(b, width, height) {
  const x1 = Math.min(Math.max(b.x, 0), width), y1 = Math.min(Math.max(b.y, 0), height);
  const x2 = Math.min(Math.max(b.x + b.w, 0), width), y2 = Math.min(Math.max(b.y + b.h, 0), height);
  return { x: x1, y: y1, w: x2 - x1, h: y2 - y1 };
}

function usable(k) {
  return Array.isArray(k) && k.length === 6 && k.every((p) => p.length === 2 && Number.isFinite(p[0]) && Number.isFinite(p[1]));
}

/** The six points in the face's own frame (x along the eyes, y down the face), the eye distance and the roll. */
export function local(k) {
  if (!usable(k)) return null;
  const vx = k[LEFT_EYE][0] - k[RIGHT_EYE][0], vy = k[LEFT_EYE][1] - k[RIGHT_EYE][1];
  const ed = Math.hypot(vx, vy);
  if (ed <= 1e-6) return null;
  const ux = [vx / ed, vy / ed], uy = [-ux[1], ux[0]];
  const ox = (k[RIGHT_EYE][0] + k[LEFT_EYE][0]) / 2, oy = (k[RIGHT_EYE][1] + k[LEFT_EYE][1]) / 2;
  const p = k.map(([x, y]) => { const dx = x - ox, dy = y - oy; return [dx * ux[0] + dy * ux[1], dx * uy[0] + dy * uy[1]]; });
  return { p, ed, roll: Math.atan2(ux[1], ux[0]) * 180 / Math.PI };
}

export const GEOMETRY = { minEyeWidth: 0.15, maxRoll: 65, noseDrop: [0.05, 0.45], mouthDrop: [0.15, 0.75],
                          minNoseToMouth: 0.04, inside: 0.3 };

/** Whether six keypoints make a face (fera.runtime.geometry.plausible); true when there are none to judge. */
export function plausible(k, boxW, boxH, boxX = 0, boxY = 0, c = GEOMETRY) {
  if (!k || k.length === 0) return true;
  const loc = local(k);
  if (loc === null || boxW <= 0 || boxH <= 0) return false;
  const gx = c.inside * boxW, gy = c.inside * boxH;
  for (const [x, y] of k.slice(0, 4)) {
    if (!(x >= boxX - gx && x <= boxX + boxW + gx && y >= boxY - gy && y <= boxY + boxH + gy)) return false;
  }
  const nose = loc.p[NOSE][1] / boxH, mouth = loc.p[MOUTH][1] / boxH;
  return loc.ed / boxW >= c.minEyeWidth && Math.abs(loc.roll) <= c.maxRoll && c.noseDrop[0] <= nose
    && nose <= c.noseDrop[1] && c.mouthDrop[0] <= mouth && mouth <= c.mouthDrop[1] && mouth - nose >= c.minNoseToMouth;
}

/** Nose tip minus the ears' midpoint over half the ear span: 0 frontal, > 0 turned to the image's right. */
export function yawRatio(k) {
  const loc = local(k);
  if (loc === null) return null;
  const p = loc.p, half = (p[LEFT_EAR][0] - p[RIGHT_EAR][0]) / 2;
  if (half <= 1e-6) return null;
  return (p[NOSE][0] - (p[LEFT_EAR][0] + p[RIGHT_EAR][0]) / 2) / half;
}

export const FACING = { minSize: 0.18, facingBelow: 0.2, turnedAbove: 0.6 };

/** A side as the user has it: swapped when the view is mirrored. */
export function asSeen(side, mirror) {
  if (!mirror) return side;
  return side === "left" ? "right" : side === "right" ? "left" : side;
}

/** "you", "left" or "right" (the viewer's), or null when unsure (fera.runtime.geometry.facing). */
export function facing(k, boxH, frameW, frameH, mirror = false, c = FACING) {
  if (!k || k.length === 0 || boxH < c.minSize * Math.max(frameW, frameH, 1)) return null;
  const r = yawRatio(k);
  if (r === null) return null;
  if (Math.abs(r) < c.facingBelow) return "you";
  if (Math.abs(r) <= c.turnedAbove) return null;
  return asSeen(r > 0 ? "right" : "left", mirror);
}

export function facingWords(direction) {
  return direction == null ? null : direction === "you" ? "facing you" : `turned to your ${direction}`;
}

/** Python's round(): halves go to the even neighbour. */
export function pyRound(x) {
  const r = Math.round(x);
  return (Math.abs(x % 1) === 0.5 && r % 2 !== 0) ? r - 1 : r;
}
