import { readFileSync, writeFileSync } from "node:fs";
// Runs the page's pixel functions on the jobs of a JSON file (tests/test_site_pixels.py writes them).
import * as I from "../../../src/fera/web/static/js/image.mjs";
const jobs = JSON.parse(readFileSync(process.argv[2], "utf8"));
const out = jobs.map((j) => {
  const src = new Uint8ClampedArray(Buffer.from(j.data, "base64"));
  let r;
  if (j.op === "pillow") r = I.pillowResize(src, j.w, j.h, j.c, j.dw, j.dh, j.gap, j.planes);
  else if (j.op === "grey") r = I.greySquare(I.frameOf(j.w, j.h, src, j.c), j.x0, j.y0, j.side);
  else r = I.resizeGrey(src, j.w, j.h, j.dw, j.dh, j.method);
  return Buffer.from(r).toString("base64");
});
writeFileSync(process.argv[3], JSON.stringify(out));
