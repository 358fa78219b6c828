// Tracking: one id per person across frames (fera.runtime.track). Greedy matching by IoU with the predicted
// or the last box, then by centre distance; a track is confirmed (a person) once matched in 3 of its last
// 5 frames with a mean detector score of at least 0.6; tentative tracks that can no longer be confirmed go.
import { centreDistance, cx, cy, iou } from "./geometry.mjs";

export const TRACK = { iouMin: 0.3, centreMax: 1.0, sizeRatioMax: 1.5, maxMissed: 30, maxAgeS: 1.0, velocityGain: 0.5,
                       confirmHits: 3, confirmWindow: 5, confirmScore: 0.6 };

function observe(t, score, c) {
  t.recent.push(score);
  while (t.recent.length > Math.max(c.confirmWindow, 1)) t.recent.shift();
  const seen = t.recent.filter((s) => s !== null);
  if (!t.confirmed && seen.length >= c.confirmHits) {
    let sum = 0;
    for (const s of seen) sum += s;
    if (sum / seen.length >= c.confirmScore - 1e-9) t.confirmed = true;
  }
  const missed = t.recent.length - seen.length;
  return t.confirmed || missed <= Math.max(c.confirmWindow - c.confirmHits, 0);
}

function predicted(t, now, horizon) {
  const dt = Math.min(Math.max(now - t.lastSeen, 0), horizon);
  return { x: t.box.x + t.vx * dt, y: t.box.y + t.vy * dt, w: t.box.w, h: t.box.h };
}

const stableSort = (a, key) => a.map((v, i) => [key(v), i, v]).sort((p, q) => (p[0] - q[0]) || (p[1] - q[1])).map((p) => p[2]);

export class Tracker {
  constructor(config = {}) {
    this.config = { ...TRACK, ...config };
    this.tracks = [];
    this.nextId = 1;
  }

  reset() { this.tracks = []; }

  /** Faces {box, score, keypoints} of this frame -> the live tracks, sorted by id, as TrackedFace objects. */
  update(faces, now) {
    const c = this.config, dets = [...faces], matches = new Map();
    const boxes = this.tracks.map((t) => [predicted(t, now, c.maxAgeS), t.box]);
    let pairs = [];
    boxes.forEach(([p, b], ti) => dets.forEach((d, di) => pairs.push([Math.max(iou(p, d.box), iou(b, d.box)), ti, di])));
    greedy(stableSort(pairs.filter((q) => q[0] >= c.iouMin), (q) => -q[0]), matches);
    pairs = [];
    boxes.forEach(([p, b], ti) => dets.forEach((d, di) => {
      if (Math.max(b.h, d.box.h) <= c.sizeRatioMax * Math.max(Math.min(b.h, d.box.h), 1e-6)) {
        pairs.push([Math.min(centreDistance(p, d.box), centreDistance(b, d.box)) / Math.max(b.w, b.h, 1e-6), ti, di]);
      }
    }));
    greedy(stableSort(pairs.filter((q) => q[0] <= c.centreMax), (q) => q[0]), matches);

    this.tracks.forEach((t, ti) => {
      if (matches.has(ti)) {
        const d = dets[matches.get(ti)], dt = now - t.lastSeen;
        if (dt > 0 && c.velocityGain > 0) {
          t.vx += c.velocityGain * ((cx(d.box) - cx(t.box)) / dt - t.vx);
          t.vy += c.velocityGain * ((cy(d.box) - cy(t.box)) / dt - t.vy);
        }
        Object.assign(t, { box: d.box, score: d.score, lastSeen: now, missed: 0, hits: t.hits + 1, keypoints: d.keypoints });
      } else {
        t.missed += 1;
      }
    });
    this.tracks = this.tracks.filter((t) => observe(t, t.missed ? null : t.score, c)
                                       && t.missed <= c.maxMissed && now - t.lastSeen <= c.maxAgeS);
    const used = new Set(matches.values());
    dets.forEach((d, di) => {
      if (used.has(di)) return;
      const t = { trackId: this.nextId++, box: d.box, score: d.score, lastSeen: now, missed: 0, hits: 1, vx: 0, vy: 0,
                  keypoints: d.keypoints, confirmed: false, recent: [] };
      observe(t, t.score, c);
      this.tracks.push(t);
    });
    return [...this.tracks].sort((a, b) => a.trackId - b.trackId).map((t) => ({
      trackId: t.trackId, box: t.box, score: t.score, missed: t.missed, hits: t.hits, probs: null, expression: null,
      keypoints: t.keypoints, confirmed: t.confirmed }));
  }
}

function greedy(pairs, matches) {
  const used = new Set(matches.values());
  for (const [, ti, di] of pairs) {
    if (!matches.has(ti) && !used.has(di)) { matches.set(ti, di); used.add(di); }
  }
}
