// The page reads a classifier's class names, preprocessing and temperature from the .onnx file itself.
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { test } from "node:test";
import { feraMeta, metadataProps } from "../../src/fera/web/static/js/onnx.mjs";

const MODELS = new URL("../../src/fera/assets/models/", import.meta.url);
const DETECTOR = new URL("../../src/fera/assets/detector/", import.meta.url);

for (const name of readdirSync(MODELS).filter((n) => n.endsWith(".onnx"))) {
  test(`the metadata of the shipped ${name}`, () => {
    const meta = feraMeta(readFileSync(new URL(name, MODELS)));
    assert.ok(Array.isArray(meta.class_names) && meta.class_names.length >= 2, "class names");
    assert.equal(meta.input_size.length, 2);
    assert.equal(typeof meta.preprocessing.scale, "number");
    assert.ok(meta.temperature > 0);
  });
}

test("the detector has no fera record, and says so", () => {
  const bytes = readFileSync(new URL("face_detection_full_range.onnx", DETECTOR));
  assert.equal(metadataProps(bytes).fera, undefined);
  assert.throws(() => feraMeta(bytes), /not a fera model/);
});

test("bytes that are not ONNX are refused with a sentence", () => {
  assert.throws(() => metadataProps(new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f])), /not an ONNX file/);
});
