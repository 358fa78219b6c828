// The page's runtime against the Python runtime's replay traces (tests/fixtures/traces, written by
// scripts/make_traces.py): the same detections and probabilities must give the same decisions, the same words
// and the same people, frame by frame. tests/test_conformance.py holds Python to the same stored decisions.
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { test } from "node:test";
import { Assistant } from "../../src/fera/web/static/js/pipeline.mjs";

const DIR = new URL("../fixtures/traces/", import.meta.url);
const FIELDS = { track_id: "trackId" };
const traces = readdirSync(DIR).filter((n) => n.endsWith(".json")).sort()
  .map((n) => JSON.parse(readFileSync(new URL(n, DIR), "utf8")));

/** Plays the trace's detector calls back: each call must be for an image of the recorded size. */
class ReplayDetector {
  constructor() { this.inputSize = 192; this.nmsIou = 0.3; this.calls = []; }
  async detect(f) {
    const call = this.calls.shift();
    assert.ok(call, `the page asked the detector once more than Python did (${f.width} x ${f.height})`);
    assert.deepEqual([f.width, f.height], [call.width, call.height], "the detector was given another image than Python's");
    return call.faces.map((d) => ({ box: { x: d.x, y: d.y, w: d.w, h: d.h }, score: d.score, keypoints: d.keypoints }));
  }
}

/** Plays the trace's classifier calls back: the boxes must be Python's. */
class ReplayClassifier {
  constructor(classNames) { this.classNames = classNames; this.calls = []; }
  async classify(f, boxes) {
    const call = this.calls.shift();
    assert.equal(boxes.length, call.boxes.length, "the classifier was asked about another number of faces than in Python");
    boxes.forEach((b, i) => [b.x, b.y, b.w, b.h].forEach((v, k) => assert.ok(Math.abs(v - call.boxes[i][k]) < 1e-3,
      `box ${i} differs from Python's: ${JSON.stringify(b)} vs ${call.boxes[i]}`)));
    return call.probs.map((p) => Float32Array.from(p));
  }
}

export async function replay(trace) {
  const det = new ReplayDetector(), clf = new ReplayClassifier(trace.class_names);
  const a = new Assistant(det, clf, { announce: { mirror: trace.config.mirror } });
  const decisions = [], faces = [];
  for (const [i, f] of trace.frames.entries()) {
    det.calls = [...f.detect]; clf.calls = [...f.classify];
    const frame = { width: f.width, height: f.height, data: null, channels: 4, brightness: f.brightness };
    if (trace.kind === "photo") {
      const [, found, sentence] = await a.photo(frame);
      return { sentence, faces: found.map((x) => [x.box.x, x.expression.label, x.expression.confidence]) };
    }
    if ("verbosity" in f) a.setVerbosity(f.verbosity);
    const r = await a.step(frame, f.t);
    const ds = [...r.decisions, ...(f.describe ? [a.describeNow()] : [])];
    decisions.push(...ds.map((d) => ({ frame: i, ...d })));
    faces.push(r.faces.map((x) => [x.trackId, x.expression == null ? null : x.expression.label]));
    assert.equal(det.calls.length + clf.calls.length, 0, `frame ${i}: the page made fewer detector or classifier calls than Python`);
  }
  if (trace.finish) decisions.push(...a.finish().map((d) => ({ frame: trace.frames.length - 1, ...d })));
  return { decisions, faces };
}

function sameDecision(got, want, where) {
  for (const [k, v] of Object.entries(want)) {
    const g = got[FIELDS[k] ?? k];
    if (k === "confidence" && v !== null) assert.ok(Math.abs(g - v) < 1e-9, `${where}: confidence ${g} vs Python's ${v}`);
    else assert.equal(g ?? null, v, `${where}: ${k} is ${JSON.stringify(g)}, Python's is ${JSON.stringify(v)}`);
  }
}

for (const trace of traces) {
  test(`${trace.name}: ${trace.description}`, async () => {
    const got = await replay(trace), want = trace.expected;
    if (trace.kind === "photo") {
      assert.equal(got.sentence, want.sentence);
      assert.equal(got.faces.length, want.faces.length);
      got.faces.forEach((f, i) => { assert.ok(Math.abs(f[0] - want.faces[i][0]) < 1e-6); assert.equal(f[1], want.faces[i][1]);
                                    assert.ok(Math.abs(f[2] - want.faces[i][2]) < 1e-6); });
      return;
    }
    const said = (ds) => ds.filter((d) => d.spoken).map((d) => `${d.time.toFixed(2)} ${d.text || `(${d.earcon})`}`);
    assert.deepEqual(said(got.decisions), said(want.decisions), "the spoken announcements differ from Python's");
    assert.equal(got.decisions.length, want.decisions.length, "another number of decisions (spoken or suppressed)");
    want.decisions.forEach((d, i) => sameDecision(got.decisions[i], d, `decision ${i} (frame ${d.frame})`));
    assert.deepEqual(got.faces, want.faces, "the people in view differ from Python's");
  });
}

test("the traces cover what the replay tests cover", () => {
  const names = traces.map((t) => t.name);
  for (const need of ["title_card_go", "smile", "crying_then_laughing", "newcomer", "group_of_three", "group_of_six",
                      "left_edge", "lost_face", "photo_astronaut"]) assert.ok(names.includes(need), need);
  const codes = new Set(traces.flatMap((t) => (t.expected.decisions || []).map((d) => d.code)));
  for (const code of ["spoken", "held_too_short", "global_rate_limit", "below_threshold", "on_demand", "not_primary",
                      "person_rate_limit", "person_first"]) {
    assert.ok(codes.has(code), `no trace has a decision coded ${code}`);
  }
});
