// Every word the assistant says, as pure functions of plain values (fera.runtime.wording).
// The words describe the face ("appears surprised", "maybe afraid", "not sure"), never the feeling,
// identity, age, gender or ethnicity.
import { asSeen, cx, cy, facingWords, pyRound } from "./geometry.mjs";

export const ADJECTIVES = { surprise: "surprised", fear: "afraid", disgust: "disgusted" };
export const STATUS_TEXT = { too_dark: "too dark", no_face: "no face", face_lost: "face lost",
                             edge_left: "face at the left edge", edge_right: "face at the right edge" };
export const ORDINALS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth"];
export const PLACES = ["far left", "left", "ahead", "right", "far right"];

export function position(b, width, side, mirror = false) {
  const r = cx(b) / Math.max(width, 1);
  return asSeen(r < side ? "left" : r > 1 - side ? "right" : "ahead", mirror);
}

/** Faces (anything with a box) left to right as the user has them; a stable sort, as Python's. */
export function leftToRight(faces, mirror = false) {
  return [...faces].sort((a, b) => (mirror ? cx(b.box) - cx(a.box) : cx(a.box) - cx(b.box)));
}

export function place(b, width, mirror = false) {
  let r = cx(b) / Math.max(width, 1);
  r = mirror ? 1 - r : r;
  return PLACES[Math.min(Math.max(Math.trunc(r * 5), 0), 4)];
}

export function row(b, height) {
  return cy(b) < height / 3 ? "top" : cy(b) > 2 * height / 3 ? "bottom" : "middle";
}

export function distance(b, height, closeMin, talkingMin) {
  const r = b.h / Math.max(height, 1);
  return r >= closeMin ? "close" : r >= talkingMin ? "talking distance" : "far";
}

export function level(confidence, appearsMin, maybeMin) {
  if (confidence == null || confidence < maybeMin) return "unsure";
  return confidence >= appearsMin ? "appears" : "maybe";
}

export const adjective = (label) => ADJECTIVES[label] ?? label;
export const statusText = (code) => STATUS_TEXT[code] ?? code.replaceAll("_", " ");

export function ordinal(n) {
  if (n <= ORDINALS.length) return ORDINALS[n - 1];
  const tens = n % 100;
  return `${n}${tens >= 10 && tens <= 20 ? "th" : ({ 1: "st", 2: "nd", 3: "rd" })[n % 10] ?? "th"}`;
}

export function turn(facing, verbosity) {
  const way = verbosity >= 2 ? facing : null;
  return way && (verbosity >= 3 || way !== "you") ? facingWords(way) : null;
}

// ---- one face: a FaceWords is {position, place, row, distance, level, label, confidence, height, facing}

export function expression(f) {
  return f.level === "unsure" || f.label == null ? "not sure" : `${f.level} ${adjective(f.label)}`;
}

export function terse(f) {
  return f.level === "appears" && f.label != null ? adjective(f.label) : expression(f);
}

export function details(f, verbosity) {
  const w = turn(f.facing, verbosity), t = w == null ? [] : [w];
  if (verbosity <= 1) return [terse(f)];
  if (verbosity === 2) return [expression(f), ...t];
  const pct = f.level !== "unsure" && f.confidence != null ? [`${pyRound(100 * f.confidence)}%`] : [];
  return [f.distance, expression(f), ...pct, ...t];
}

export function spoken(f, verbosity, pos = null) {
  pos = pos || f.position;
  if (verbosity <= 0) return "";
  const d = details(f, verbosity);
  if (verbosity === 1) return `${pos[0].toUpperCase()}${pos.slice(1)}: ${d[0]}`;
  return [pos, ...d].join(", ");
}

export function line(f, verbosity) {
  if (verbosity === 1) return spoken(f, 1);
  return `${f.position}: ${(verbosity >= 2 ? details(f, verbosity) : [terse(f)]).join(", ")}`;
}

// ---- a group

export function apart(faces) {
  for (const names of [faces.map((f) => f.position), faces.map((f) => f.place)]) {
    if (new Set(names).size === names.length) return names;
  }
  return faces.map((_, i) => `${ordinal(i + 1)} from the left`);
}

export function spots(faces) {
  const names = faces.map((f) => f.place);
  if (new Set(names).size === names.length) return names;
  return faces.map((f) => `${f.place}, ${f.row}`);
}

export function group(faces, verbosity, maxDescribe = 4, maxNamed = 2) {
  const n = faces.length, v = verbosity;
  const head = `${n} face${n > 1 ? "s" : ""}: `;
  if (n > maxDescribe) return head + summary(faces, v, maxNamed);
  const names = apart(faces);
  if (v <= 1) return head + faces.map((f, i) => `${names[i]} ${terse(f)}`).join(", ");
  if (v >= 3) return head + faces.map((f, i) => spoken(f, 3, names[i])).join("; ");
  const items = [];
  let first = true;
  faces.forEach((f, i) => {
    const words = first ? expression(f) : terse(f), t = turn(f.facing, 2);  // "appears" said once
    first = first && f.level !== "appears";
    items.push(`${names[i]} ${words}` + (t ? `, ${t}` : ""));
  });
  return head + items.join(items.some((s) => s.includes(", ")) ? "; " : ", ");
}

export function summary(faces, verbosity, maxNamed = 2) {
  const words = faces.map(terse);
  const counts = new Map();
  for (const w of words) counts.set(w, (counts.get(w) || 0) + 1);
  const rank = (w) => (w === "not sure" ? 2 : w.startsWith("maybe ") ? 1 : 0);
  const order = [...counts.entries()].sort((a, b) => (b[1] - a[1]) || (rank(a[0]) - rank(b[0]))
                                               || (words.indexOf(a[0]) - words.indexOf(b[0])));
  const parts = [];
  let verb = true;
  for (const [w, k] of order) {
    const plain = w !== "not sure" && !w.startsWith("maybe ");
    parts.push(`${k} ${plain && verb ? (k === 1 ? "appears " : "appear ") : ""}${w}`);
    verb = verb && !plain;
  }
  let tallest = 0;
  faces.forEach((f, i) => { if (f.height > faces[tallest].height) tallest = i; });
  const top = Math.max(faces[tallest].height, 1e-9);
  const key = (i) => -faces[i].confidence * Math.sqrt(faces[i].height / top);
  const chosen = faces.map((_, i) => i).filter((i) => faces[i].level !== "unsure").sort((a, b) => key(a) - key(b));
  const picked = chosen.slice(0, Math.max(maxNamed, 0)).sort((a, b) => a - b);
  const where = spots(picked.map((i) => faces[i]));
  const named = picked.map((i, j) => {
    const t = turn(faces[i].facing, verbosity);
    return `${i === tallest ? "nearest, " : ""}${where[j]}: ${words[i]}` + (t ? `, ${t}` : "");
  });
  return [parts.join(", "), ...named].join("; ");
}
