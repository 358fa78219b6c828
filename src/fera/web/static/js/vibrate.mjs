// Vibration patterns (the Vibration API's [on, off, on, ...] milliseconds), one per expression and per status,
// each under half a second and told apart by rhythm: README.md lists them. A class without a designed pattern
// gets one made from its name (the same name always feels the same), as earcons do for sounds.

export const PATTERNS = {
  happy: [40, 60, 40],               // two quick taps, like the rising two-note earcon
  sad: [250],                        // one long, soft buzz
  surprise: [20, 30, 20, 30, 20],    // three very quick taps
  neutral: [60],                     // one short tap
  angry: [120, 60, 120],             // two long buzzes
  disgust: [200, 60, 40],            // long, then short
  fear: [30, 30, 30, 30, 30, 30, 30], // a trill of four
  no_face: [20, 200, 20],            // two faint ticks far apart
  face_lost: [300, 80, 60],          // long fading to short
  too_dark: [400],                   // one very long
  edge: [15, 40, 15, 40, 15, 40, 15], // four ticks
};

/** CRC-32 (as zlib.crc32) of a string's UTF-8 bytes. */
export function crc32(s) {
  let c = ~0;
  for (const byte of new TextEncoder().encode(s)) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return (~c) >>> 0;
}

/** The pattern for an earcon code ("edge_left" is the edge's): designed, or made from the name. */
export function pattern(code) {
  const name = code.startsWith("edge_") ? "edge" : code;
  if (PATTERNS[name]) return PATTERNS[name];
  const h = crc32(name), lengths = [40, 100, 180];
  const pulses = 2 + (h & 1), out = [];
  for (let i = 0; i < pulses; i++) {
    if (i) out.push(70);
    out.push(lengths[(h >>> (1 + 2 * i)) % 3]);
  }
  return out;
}

export const total = (p) => p.reduce((a, b) => a + b, 0);
