// The camera: getUserMedia with the back or the front camera, and its frames as RGBA pixels (at most 640 px on
// the longer side, as fera assist's cameras deliver them).
import { frameOf } from "./image.mjs";

export const MAX_SIDE = 640;

export function cameraMessage(e) {
  if (e.name === "NotAllowedError") return "Camera permission was denied. Allow the camera for this page in the browser's settings, then press Start camera again.";
  if (e.name === "NotFoundError" || e.name === "OverconstrainedError") return "No camera was found. Connect one, then press Start camera again.";
  if (e.name === "NotReadableError") return "The camera is in use by another program. Close it, then press Start camera again.";
  if (e.name === "SecurityError") return "This page cannot use the camera here: open it over HTTPS (or at localhost), then press Start camera again.";
  return `The camera could not start (${e.message || e.name}); press Start camera again.`;
}

export async function openCamera(video, facing) {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    const e = new Error("no camera API"); e.name = "SecurityError"; throw e;
  }
  const stream = await navigator.mediaDevices.getUserMedia({
    video: { facingMode: { ideal: facing }, width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
  video.srcObject = stream;
  await video.play().catch(() => {});
  return stream;
}

/** The current video frame as a frame of pixels (null before the first one arrives). */
export function grab(video, canvas, maxSide = MAX_SIDE) {
  if (!video.videoWidth) return null;
  const s = Math.min(1, maxSide / Math.max(video.videoWidth, video.videoHeight));
  canvas.width = Math.round(video.videoWidth * s); canvas.height = Math.round(video.videoHeight * s);
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
  return frameOf(canvas.width, canvas.height, ctx.getImageData(0, 0, canvas.width, canvas.height).data, 4);
}

/** A decoded photo (an ImageBitmap or image) as a frame, shrunk to at most `maxSide` on its longer side. */
export function pixelsOf(image, canvas, maxSide = 1920) {
  const s = Math.min(1, maxSide / Math.max(image.width, image.height));
  canvas.width = Math.max(1, Math.round(image.width * s)); canvas.height = Math.max(1, Math.round(image.height * s));
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(image, 0, 0, canvas.width, canvas.height);
  return frameOf(canvas.width, canvas.height, ctx.getImageData(0, 0, canvas.width, canvas.height).data, 4);
}
