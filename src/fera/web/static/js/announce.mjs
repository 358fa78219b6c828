// Announcing (fera.runtime.announce): what to say about the people in view, when, and why (not).
// Only confirmed people; each new person once their expression held 0.7 s; then the main person's changes once
// they held 0.7 s; at least 2 s between unprompted announcements (deferred, never dropped); the same expression
// not twice for one person within 6 s; status once per change; "describe now" on demand.
import { area, centreDistance, cx, cy, facing, pyRound, right } from "./geometry.mjs";
import * as W from "./wording.mjs";

export const ANNOUNCE = {
  verbosity: 2, holdS: 0.7, globalIntervalS: 2.0, personIntervalS: 6.0, appearsMin: 0.6, maybeMin: 0.4,
  primary: "largest", primarySwitch: 1.25, mirror: false, side: 0.35, closeMin: 0.4, talkingMin: 0.15,
  edgeMargin: 0.02, darkBelow: 40.0, statusHoldS: 0.5, maxDescribe: 4, maxNamed: 2, reportRepeats: false,
};
export const EPS = 1e-6;

const newPerson = () => ({ label: null, said: new Map(), box: null });
const markSaid = (p, label, now) => { p.label = label; p.said.set(label, now); };

function decision(fields) {
  return { spoken: false, text: "", line: "", reason: "", trackId: null, time: 0, kind: "expression", code: "",
           label: null, position: null, distance: null, confidence: null, earcon: null, facing: null, ...fields };
}

/** Python's f"{x:g}" for the few numbers the reasons print. */
const g = (x) => String(Number(x.toPrecision(6)));

export class Announcer {
  constructor(config = {}) {
    this.config = { ...ANNOUNCE, ...config };
    this.primary = null;
    this.people = new Map();
    this.heir = new Map();
    this.sinceOf = new Map();
    this.lastSpoken = -Infinity;
    this.announced = null;
    this.lost = false;
    this.cond = null;
    this.condSince = -Infinity;
    this.condSaid = null;
    this.reported = new Map();
    this.frame = null;
    this.faces = [];
  }

  words(face, frame) {
    const c = this.config, b = face.box, e = face.expression;
    return { position: W.position(b, frame.width, c.side, c.mirror), place: W.place(b, frame.width, c.mirror),
             row: W.row(b, frame.height), distance: W.distance(b, frame.height, c.closeMin, c.talkingMin),
             level: this.level(e), label: e == null ? null : e.label, confidence: e == null ? null : e.confidence,
             height: b.h, facing: facing(face.keypoints, b.h, frame.width, frame.height, c.mirror) };
  }

  level(e) { return W.level(e == null ? null : e.confidence, this.config.appearsMin, this.config.maybeMin); }

  phrase(face, frame, verbosity = null) {
    return W.spoken(this.words(face, frame), verbosity == null ? this.config.verbosity : verbosity);
  }

  // ---- unprompted

  update(frame, faces, now) {
    faces = faces.filter((f) => f.confirmed);
    this.trackPeople(faces);
    this.primary = this.pickPrimary(frame, faces);
    for (const f of faces) {
      const s = this.sinceOf.get(f.trackId);
      if (f.expression != null && (s === undefined ? "" : s[0]) !== f.expression.label) {
        this.sinceOf.set(f.trackId, [f.expression.label, now]);
      }
    }
    const out = [];
    this.status(frame, faces, now, out);
    const ready = [];
    for (const f of faces) { const r = this.candidate(frame, f, now, out); if (r != null) ready.push(r); }
    if (ready.length && now - this.lastSpoken < this.config.globalIntervalS - EPS) {
      for (const [, d] of ready) this.report(out, d, "global_rate_limit", "suppressed: global rate limit (waits)");
    } else if (ready.length) {
      this.say(frame, faces, ready, now, out, "");
    }
    this.frame = frame;
    this.faces = faces;
    return out;
  }

  trackPeople(faces) {
    const live = new Map(faces.map((f) => [f.trackId, f]));
    const came = [...live.keys()].filter((k) => !this.people.has(k));
    for (const f of faces) {
      if (!this.people.has(f.trackId)) {
        let old = null, best = Infinity;
        for (const [k, p] of this.people) {
          if ((!live.has(k) || live.get(k).missed > 0) && p.box != null && Announcer.same(p.box, f.box)) {
            const d = centreDistance(p.box, f.box);
            if (d < best) { best = d; old = k; }
          }
        }
        this.people.set(f.trackId, old !== null ? this.people.get(old) : newPerson());
        if (old !== null) {
          this.heir.set(old, f.trackId);
          if (this.sinceOf.has(old)) this.sinceOf.set(f.trackId, this.sinceOf.get(old));
        }
      }
      if (f.missed === 0) this.people.get(f.trackId).box = f.box;
    }
    if (this.announced !== null && !live.has(this.announced)) {
      const heir = this.heir.get(this.announced);
      this.announced = heir !== undefined && live.has(heir) ? heir : null;
      this.lost = this.announced === null;
    } else if (this.lost && came.length) {
      this.lost = false;
    }
    const only = (m, test) => new Map([...m].filter(test));
    this.people = only(this.people, ([k]) => live.has(k));
    this.heir = only(this.heir, ([k, v]) => live.has(k) && live.has(v));
    this.sinceOf = only(this.sinceOf, ([k]) => live.has(k));
    this.reported = only(this.reported, ([, v]) => v.trackId === null || live.has(v.trackId));
  }

  static same(a, b) {
    return Math.max(a.h, b.h) <= 1.5 * Math.max(Math.min(a.h, b.h), 1e-6) && centreDistance(a, b) <= 2.5 * Math.max(a.w, a.h);
  }

  score(f, frame) {
    const w = Math.max(frame.width, 1), h = Math.max(frame.height, 1);
    if (this.config.primary === "central") {
      const d = Math.hypot(cx(f.box) / w - 0.5, cy(f.box) / h - 0.5) / Math.hypot(0.5, 0.5);
      return Math.max(0, 1 - d);
    }
    return area(f.box) / (w * h);
  }

  pickPrimary(frame, faces) {
    if (!faces.length) return null;
    let best = faces[0];
    for (const f of faces) if (this.score(f, frame) > this.score(best, frame)) best = f;
    const cur = faces.find((f) => f.trackId === this.primary);
    if (cur === undefined || this.score(best, frame) > this.score(cur, frame) * this.config.primarySwitch) return best.trackId;
    return cur.trackId;
  }

  condition(frame, faces) {
    const c = this.config;
    if (frame.brightness != null && frame.brightness < c.darkBelow) return "too_dark";
    if (!faces.length) return "no_face";
    const b = faces.find((f) => f.trackId === this.primary).box;
    const margin = c.edgeMargin * frame.width;
    const left = b.x <= margin, rightEdge = right(b) >= frame.width - margin;
    let side = left === rightEdge ? null : left ? "left" : "right";
    if (side && c.mirror) side = side === "left" ? "right" : "left";
    return side ? `edge_${side}` : null;
  }

  status(frame, faces, now, out) {
    const c = this.config, cond = this.condition(frame, faces);
    if (cond !== this.cond) { this.cond = cond; this.condSince = now; }
    const held = now - this.condSince >= c.statusHoldS - EPS;
    if (cond === null && held) this.condSaid = null;
    const code = this.lost ? "face_lost" : cond && cond !== this.condSaid && held ? cond : null;
    if (code === null) return;
    const d = decision({ text: c.verbosity <= 0 ? "" : W.statusText(code), trackId: null, time: now, kind: "status",
                         label: code, earcon: code });
    if (code.startsWith("edge_") && this.introducing(faces)) {
      this.report(out, d, "person_first", "suppressed: the new person is said first (waits)");
      return;
    }
    if (now - this.lastSpoken < c.globalIntervalS - EPS) {
      this.report(out, d, "global_rate_limit", "suppressed: global rate limit");
      return;
    }
    this.lastSpoken = now;
    if (code === "face_lost") {
      this.lost = false;
      if (cond === "no_face") this.condSaid = cond;
    } else {
      this.condSaid = code;
    }
    this.report(out, d, "spoken", `spoken: status ${code}`, true);
  }

  introducing(faces) {
    const f = faces.find((q) => q.trackId === this.primary);
    return f !== undefined && f.expression != null && this.people.get(f.trackId).label === null
      && this.level(f.expression) !== "unsure";
  }

  decisionFor(frame, f, now) {
    const e = f.expression, w = this.words(f, frame), v = this.config.verbosity;
    return decision({ text: W.spoken(w, v), line: W.line(w, v), trackId: f.trackId, time: now, kind: "expression",
                      label: e.label, position: w.position, distance: w.distance, confidence: e.confidence,
                      earcon: e.label, facing: w.facing });
  }

  candidate(frame, f, now, out) {
    const c = this.config, e = f.expression, tid = f.trackId, p = this.people.get(tid);
    if (e == null) return null;
    if (e.label === p.label) { this.reported.delete(`expression:${tid}`); return null; }
    const since = e.since != null ? e.since : this.sinceOf.get(tid)[1];
    const held = now - since, isNew = p.label === null;
    const d = this.decisionFor(frame, f, now);
    if (tid !== this.primary && !isNew) return this.report(out, d, "not_primary", "suppressed: not primary");
    if (this.level(e) === "unsure") {
      d.text = "";
      return this.report(out, d, "below_threshold", "suppressed: below threshold");
    }
    if (held < c.holdS - EPS) return this.report(out, d, "held_too_short", `suppressed: changed ${pyRound(held * 1000)} ms ago`);
    const said = p.said.has(e.label) ? p.said.get(e.label) : -Infinity;
    if (now - said < c.personIntervalS - EPS) {
      return this.report(out, d, "person_rate_limit", "suppressed: back to an expression said "
                         + `less than ${g(c.personIntervalS)} s ago (waits)`);
    }
    d.reason = `spoken: ${isNew ? "new face" : "changed to " + e.label}, held ${pyRound(held * 1000)} ms`;
    const nearness = Math.sqrt(f.box.h / Math.max(frame.height, 1));
    return [[tid === this.primary && !isNew, e.confidence * nearness], d];
  }

  say(frame, faces, ready, now, out, why) {
    const cmp = (a, b) => (Number(a[0][0]) - Number(b[0][0])) || (a[0][1] - b[0][1]);
    ready = [...ready].sort((a, b) => cmp(b, a));  // best first; a stable sort, as Python's reverse=True
    const fresh = ready.filter(([[change]]) => !change).map(([, d]) => d);
    if (fresh.length > 1 && this.config.verbosity > 0) {
      const d = this.describeNow(frame, faces, now, `spoken: ${fresh.length} new faces${why}`);
      d.code = "spoken";
      out.push(d);
      return;
    }
    const d = ready[0][1];
    markSaid(this.people.get(d.trackId), d.label, now);
    this.lastSpoken = now;
    this.announced = d.trackId;
    d.reason += why;
    this.report(out, d, "spoken", d.reason, true);
  }

  /** At the end of a video: what was about to be said (held long enough, only waiting for a gap), said now. */
  flush(now) {
    if (this.frame === null) return [];
    const out = [], ready = [];
    for (const f of this.faces) { const r = this.candidate(this.frame, f, now, []); if (r != null) ready.push(r); }
    if (ready.length) this.say(this.frame, this.faces, ready, now, out, " (pending at the end)");
    return out;
  }

  report(out, d, code, reason, spoken = false) {
    d.spoken = spoken; d.code = code; d.reason = reason;
    const key = `${d.kind}:${d.trackId}`, value = `${d.label}\u0000${code}`;
    const prev = this.reported.get(key);
    if (spoken || this.config.reportRepeats || prev === undefined || prev.value !== value) out.push(d);
    this.reported.set(key, { trackId: d.trackId, value });
    return null;
  }

  // ---- on demand

  describeNow(frame = null, faces = null, now = 0, reason = "spoken: on demand") {
    const c = this.config;
    frame = frame !== null ? frame : this.frame;
    faces = (faces === null ? this.faces : faces).filter((f) => f.confirmed);
    let text;
    if (frame === null || !faces.length) {
      const dark = frame !== null && frame.brightness != null && frame.brightness < c.darkBelow;
      text = W.statusText(dark ? "too_dark" : "no_face");
    } else {
      faces = W.leftToRight(faces, c.mirror);
      text = W.group(faces.map((f) => this.words(f, frame)), Math.max(c.verbosity, 1), c.maxDescribe, c.maxNamed);
      for (const f of faces) {
        if (this.level(f.expression) !== "unsure" && this.people.has(f.trackId)) {
          markSaid(this.people.get(f.trackId), f.expression.label, now);
          if (f.trackId === this.primary) this.announced = f.trackId;
        }
      }
    }
    this.lastSpoken = now;
    return decision({ spoken: true, text, reason, trackId: null, time: now, kind: "describe", code: "on_demand",
                      earcon: "describe" });
  }
}
