import assert from "node:assert/strict";
import { test } from "node:test";
import { PATTERNS, crc32, pattern, total } from "../../src/fera/web/static/js/vibrate.mjs";

test("every pattern is short and no two feel the same", () => {
  const seen = new Set();
  for (const [name, p] of Object.entries(PATTERNS)) {
    assert.ok(total(p) <= 500, `${name} lasts ${total(p)} ms`);
    assert.ok(p.every((v) => Number.isInteger(v) && v > 0), name);
    assert.ok(!seen.has(p.join()), `${name} repeats another pattern`);
    seen.add(p.join());
  }
});

test("edges share the edge pattern; a class without a design gets a stable one of its own", () => {
  assert.deepEqual(pattern("edge_left"), PATTERNS.edge);
  assert.deepEqual(pattern("contempt"), pattern("contempt"));
  assert.ok(total(pattern("contempt")) <= 500 && pattern("contempt").length >= 3);
  assert.equal(crc32("The quick brown fox jumps over the lazy dog"), 0x414fa339);  // zlib.crc32's value
});
