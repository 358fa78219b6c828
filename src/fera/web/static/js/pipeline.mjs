// The assistant (fera.runtime.pipeline.Assistant): frame -> detect -> track -> classify -> smooth -> announce.
// `step(frame, t)` one frame of a stream; `finish()` what is pending at the end of a clip; `photo(frame)` a still
// photo on its own; `describeNow()` on demand. The detector ({inputSize, detect(frame)}) and the classifier
// ({classNames, classify(frame, boxes)}) are injected: the page gives ONNX Runtime's, the conformance suite replays.
import { Announcer } from "./announce.mjs";
import { clip } from "./geometry.mjs";
import { brightness as meanBrightness } from "./image.mjs";
import { Smoother } from "./smooth.mjs";
import { detectFrame, detectTiled } from "./search.mjs";
import { Tracker } from "./track.mjs";
import * as W from "./wording.mjs";

const argmax = (p) => { let k = 0; for (let i = 1; i < p.length; i++) if (p[i] > p[k]) k = i; return k; };

export class Assistant {
  constructor(detector, classifier, { announce = {}, smooth = {}, track = {}, zoomOut = true } = {}) {
    Object.assign(this, { detector, classifier, zoomOut, now: 0 });
    this.tracker = new Tracker(track);
    this.smoother = new Smoother(classifier.classNames, smooth);
    this.announcer = new Announcer(announce);
  }

  get verbosity() { return this.announcer.config.verbosity; }

  setVerbosity(v) {
    if (!Number.isInteger(v) || v < 0 || v > 3) throw new RangeError(`verbosity must be 0, 1, 2 or 3 (got ${v})`);
    this.announcer.config.verbosity = v;
    return v;
  }

  set mirror(on) { this.announcer.config.mirror = Boolean(on); }

  reset() { this.tracker.reset(); this.smoother.reset(); }

  info(f, timestamp) {
    return { width: f.width, height: f.height, timestamp, brightness: f.brightness ?? (f.data ? meanBrightness(f) : null) };
  }

  /** One frame of a stream: {frame, faces (confirmed, seen now, left to right), decisions}. */
  async step(f, timestamp) {
    this.now = timestamp;
    const { width: w, height: h } = f;
    const tracks = this.tracker.update(await detectFrame(this.detector, f, this.zoomOut), timestamp);
    const seen = tracks.filter((t) => t.missed === 0);
    const probs = await this.classifier.classify(f, seen.map((t) => clip(t.box, w, h)));
    seen.forEach((t, i) => { t.probs = probs[i]; });
    const people = this.smoother.update(tracks, timestamp).filter((t) => t.confirmed);
    const frame = this.info(f, timestamp);
    const decisions = this.announcer.update(frame, people, timestamp);
    return { frame, faces: W.leftToRight(people.filter((t) => t.missed === 0), this.announcer.config.mirror), decisions };
  }

  finish() { return this.announcer.flush(this.now); }

  describeNow() { return this.announcer.describeNow(null, null, this.now); }

  /** A still photo on its own: every face classified once; [frame info, faces, the "describe now" sentence]. */
  async photo(f) {
    const { width: w, height: h } = f;
    const found = await detectTiled(this.detector, f);
    const boxes = found.map((d) => clip(d.box, w, h));
    const probs = await this.classifier.classify(f, boxes), names = this.classifier.classNames;
    let faces = found.map((d, i) => {
      const p = probs[i], k = argmax(p);
      return { trackId: i + 1, box: boxes[i], score: d.score, missed: 0, hits: 1, probs: p, keypoints: d.keypoints,
               confirmed: true, expression: { label: names[k], confidence: p[k], probs: p, since: 0 } };
    });
    faces = W.leftToRight(faces, this.announcer.config.mirror);
    const frame = this.info(f, 0);
    const quiet = new Announcer({ ...this.announcer.config });
    return [frame, faces, quiet.describeNow(frame, faces, 0).text];
  }

  /** One face as the page lists it: position, facing, expression (or null for "not sure"), confidence, words. */
  faceRecord(frame, face) {
    const w = this.announcer.words(face, frame), e = face.expression;
    return { box: face.box, position: w.position, distance: w.distance, facing: w.facing,
             expression: e == null || w.level === "unsure" ? null : e.label, wording: W.spoken(w, 2),
             confidence: e == null ? null : e.confidence };
  }
}
