// What the page needs of an .onnx file besides running it: its metadata_props (ModelProto field 14), read from
// the protobuf bytes without a protobuf library. fera's classifiers keep their class names, input size,
// preprocessing and calibration temperature there, as JSON under the key "fera" (fera.inference.META_KEY).

export const META_KEY = "fera";

function varint(b, pos) {
  let v = 0, mul = 1, byte;
  do {
    if (pos >= b.length) throw new Error("not an ONNX file: it ends inside a number");
    byte = b[pos++];
    v += (byte & 0x7f) * mul;
    mul *= 128;
  } while (byte & 0x80);
  return [v, pos];
}

/** The fields of one protobuf message: [[field number, wire type, value or [start, end] of its bytes], ...]. */
function fields(b, start = 0, end = b.length) {
  const out = [];
  let pos = start;
  while (pos < end) {
    let tag, v;
    [tag, pos] = varint(b, pos);
    const field = Math.floor(tag / 8), wire = tag % 8;
    if (wire === 0) { [v, pos] = varint(b, pos); out.push([field, wire, v]); }
    else if (wire === 1) { pos += 8; }
    else if (wire === 5) { pos += 4; }
    else if (wire === 2) { [v, pos] = varint(b, pos); out.push([field, wire, [pos, pos + v]]); pos += v; }
    else throw new Error(`not an ONNX file: wire type ${wire}`);
    if (pos > end) throw new Error("not an ONNX file: a field runs past its end");
  }
  return out;
}

/** {key: value} of an ONNX model's metadata_props. */
export function metadataProps(bytes) {
  const b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes), text = new TextDecoder(), out = {};
  for (const [field, wire, span] of fields(b)) {
    if (field !== 14 || wire !== 2) continue;
    let key = "", value = "";
    for (const [f, w, s] of fields(b, span[0], span[1])) {
      if (w !== 2) continue;
      if (f === 1) key = text.decode(b.subarray(s[0], s[1]));
      if (f === 2) value = text.decode(b.subarray(s[0], s[1]));
    }
    out[key] = value;
  }
  return out;
}

/** The "fera" record of a classifier (an error that says so when the file has none). */
export function feraMeta(bytes) {
  const raw = metadataProps(bytes)[META_KEY];
  if (raw === undefined) throw new Error(`not a fera model: its metadata has no '${META_KEY}' record (export models with fera export)`);
  return JSON.parse(raw);
}
