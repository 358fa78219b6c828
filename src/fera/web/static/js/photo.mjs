// A photo from the camera roll: decoded in the page, described on the device, and drawn with a box and the
// words on each face for a sighted helper (fera.runtime.draw), with the same words as its text alternative.
import { pixelsOf } from "./camera.mjs";
import { MAX_PIXELS } from "./limits.mjs";

export async function decode(file) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
  } catch {
    throw new Error("the file is not an image this browser can open");
  }
  if (bitmap.width * bitmap.height > MAX_PIXELS) {
    bitmap.close();
    throw new Error(`the photo is too large (over ${MAX_PIXELS / 1e6} million pixels)`);
  }
  return bitmap;
}

export async function describe(assistant, bitmap) {
  const canvas = document.createElement("canvas"), frame = pixelsOf(bitmap, canvas);
  const [info, faces, sentence] = await assistant.photo(frame);
  const ctx = canvas.getContext("2d"), line = Math.max(2, Math.round(Math.max(canvas.width, canvas.height) / 200));
  ctx.lineWidth = line;
  ctx.font = `${Math.max(14, line * 7)}px system-ui, sans-serif`;
  for (const f of faces) {
    const words = assistant.faceRecord(info, f).wording;
    ctx.strokeStyle = "#ffd400";
    ctx.strokeRect(f.box.x, f.box.y, f.box.w, f.box.h);
    const tw = ctx.measureText(words).width + 2 * line, th = line * 9, y = Math.max(0, f.box.y - th);
    ctx.fillStyle = "#000";
    ctx.fillRect(f.box.x, y, tw, th);
    ctx.fillStyle = "#fff";
    ctx.fillText(words, f.box.x + line, y + th - 2.5 * line);
  }
  return { sentence, faces, url: canvas.toDataURL("image/jpeg", 0.85),
           alt: `The photo with a box around each face found, labelled: ${sentence}` };
}
