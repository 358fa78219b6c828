// fera's page: the assistant on this device. The models run here (onnxruntime-web); the camera's frames and
// the photos never leave the page. Announcements: see output.mjs. Offline: sw.js keeps the page, the runtime and
// the models. Served by `fera serve`, the page also offers the server's Grad-CAM explanations.
import { cameraMessage, grab, openCamera } from "./camera.mjs";
import { MAX_FPS } from "./limits.mjs";
import { Output } from "./output.mjs";
import { describe as describePhotoOn, decode } from "./photo.mjs";
import { Assistant } from "./pipeline.mjs";
import { loadModels } from "./runtime.mjs";
import { $, event, logLine, megabytes, record, setPressed, showAlert } from "./ui.mjs";

const state = { site: null, models: null, assistant: null, stream: null, running: false, paused: false, t0: 0,
                photoRequest: 0, lastFile: null, server: {} };
const canvas = document.createElement("canvas");
const fpsCap = Number(new URLSearchParams(location.search).get("fps")) || MAX_FPS;  // ?fps=1000: as fast as it goes
window.fera = record;
let output = null;

async function start() {
  const r = await fetch("site.json");
  if (!r.ok) throw new Error(`site.json: the server answered ${r.status}`);
  state.site = await r.json();
  output = new Output({ region: $("announcer"), site: state.site, record, log: logLine });
  applySettings();
  $("size-state").textContent = `Loading this page costs ${megabytes(state.site.load_bytes)} the first time ` +
    `(the models ${megabytes(state.site.model_bytes)}, the runtime ${megabytes(state.site.runtime_bytes)}); after that, nothing.`;
  const t = performance.now();
  state.models = await loadModels(state.site);
  const { detector, classifier } = state.models;
  state.assistant = new Assistant(detector, classifier, { announce: { verbosity: Number($("verbosity").value) } });
  $("load-state").textContent = `Ready: the ${state.site.classifier.name} model (${classifier.classNames.length} ` +
    `expressions) on ${state.models.backend === "webgpu" ? "WebGPU" : "WebAssembly"}.`;
  event("models-ready", { ms: Math.round(performance.now() - t), backend: state.models.backend });
}

const ready = start().catch((e) => {
  $("load-state").textContent = "The models could not be loaded.";
  showAlert(`fera could not start: ${e.message}`);
  event("load-failed", { message: e.message });
  throw e;
});

function applySettings() {
  output.mode = $("speech").checked ? "voice" : "screenreader";
  output.sounds = $("sounds").checked;
  output.vibration = $("vibration").checked && output.canVibrate;
  $("vibration").disabled = !output.canVibrate;
  $("vibration-note").hidden = output.canVibrate;
}

const prefix = (p, t) => Object.fromEntries(Object.entries(t).map(([k, v]) => [`${p}_${k}`, v]));

function say(text) { output.announce({ text, kind: "ui", earcon: null }); }

// ---- camera -------------------------------------------------------------------------------------------------

function setControls(on) {
  $("camera").textContent = on ? "Stop camera" : "Start camera";
  setPressed($("camera"), on);
  $("describe").disabled = !on;
  $("pause").disabled = !on;
  if (!on) { state.paused = false; setPressed($("pause"), false); }
}

async function startCamera() {
  showAlert("");
  try {
    await ready;
  } catch { return; }
  const facing = $("facing").value;
  try {
    state.stream = await openCamera($("preview"), facing);
  } catch (e) { showAlert(cameraMessage(e)); event("camera-failed", { name: e.name }); return; }
  $("preview").setAttribute("data-on", "");
  state.assistant.reset();
  state.assistant.mirror = facing === "user";
  state.running = true; state.t0 = performance.now();
  setControls(true);
  $("live-state").textContent = "Camera on.";
  say("camera on");
  event("camera-on");
  loop();
}

function stopCamera() {
  state.running = false;
  if (state.stream) state.stream.getTracks().forEach((t) => t.stop());
  state.stream = null;
  $("preview").removeAttribute("data-on");
  $("preview").srcObject = null;
  $("live-state").textContent = "Camera off.";
  setControls(false);
  event("camera-off");
}

async function loop() {
  if (!state.running) return;
  const began = performance.now();
  if (!state.paused) {
    const frame = grab($("preview"), canvas);
    if (frame) {
      const { detector: det, classifier: clf } = state.models, before = { ...prefix("detect", det.timing), ...prefix("classify", clf.timing) };
      const grabbed = performance.now();
      const r = await state.assistant.step(frame, (began - state.t0) / 1000);
      if (!state.running) return;
      for (const d of r.decisions) if (d.spoken) output.announce(d);
      const ms = performance.now() - began, n = r.faces.length, after = { ...prefix("detect", det.timing), ...prefix("classify", clf.timing) };
      const stages = Object.fromEntries(Object.keys(after).map((k) => [k, after[k] - before[k]]));
      const inStages = Object.values(stages).reduce((a, b) => a + b, 0);
      record.timings.push({ grab: grabbed - began, ...stages, rest: performance.now() - grabbed - inStages, total: ms, faces: n });
      record.rtts.push(ms);
      $("live-state").textContent = `Camera on: ${n} face${n === 1 ? "" : "s"} in view; ${Math.round(ms)} ms a frame.`;
    }
  }
  setTimeout(loop, Math.max(0, 1000 / fpsCap - (performance.now() - began)));
}

// ---- photo ----------------------------------------------------------------------------------------------------

function clearPhoto() {
  state.lastFile = null;
  $("explain-photo").disabled = true;
  $("photo-figure").hidden = true;
  $("photo-annotated").removeAttribute("src");
  $("photo-annotated").alt = "";
  $("photo-caption").textContent = "";
  $("explain-result").replaceChildren();
}

async function describePhoto(e) {
  e.preventDefault();
  const file = $("photo-file").files[0];
  if (!file) { showAlert("Choose a photo first."); return; }
  showAlert("");
  clearPhoto();
  $("photo-sentence").textContent = "Working…";
  const request = ++state.photoRequest;  // only the newest photo's answer counts
  try {
    await ready;
    const bitmap = await decode(file);
    const got = await describePhotoOn(state.assistant, bitmap);
    bitmap.close();
    if (request !== state.photoRequest) return;
    state.lastFile = file;
    $("photo-sentence").textContent = got.sentence;
    $("photo-annotated").src = got.url;
    $("photo-annotated").alt = got.alt;
    $("photo-caption").textContent = got.sentence;
    $("photo-figure").hidden = false;
    $("explain-photo").disabled = got.faces.length === 0;
    say(got.sentence);
    event("photo-described", { sentence: got.sentence });
  } catch (err) {
    if (request !== state.photoRequest) return;
    clearPhoto();
    $("photo-sentence").textContent = "";
    showAlert(`The photo could not be described: ${err.message}`);
  }
}

async function explainPhoto() {
  if (!state.lastFile) return;
  $("explain-result").textContent = "Working…";
  try {
    const body = new FormData();
    body.append("file", state.lastFile);
    const r = await fetch("api/explain", { method: "POST", body });
    const data = await r.json().catch(() => ({ error: `the server answered ${r.status}` }));
    if (!r.ok) throw new Error(data.error || `the server answered ${r.status}`);
    $("explain-result").replaceChildren(...data.faces.map((f) => {
      const fig = document.createElement("figure"), img = document.createElement("img"), cap = document.createElement("figcaption");
      img.src = f.overlay; img.alt = f.alt; cap.textContent = f.alt;
      fig.append(img, cap);
      return fig;
    }));
    say(data.faces.map((f) => f.alt).join(". ") || "no face");
  } catch (err) {
    $("explain-result").replaceChildren();
    showAlert(`Grad-CAM is not available: ${err.message}`);
  }
}

// ---- offline, and what a fera server adds ------------------------------------------------------------------

async function offline() {
  if (!("serviceWorker" in navigator)) {
    $("offline-state").textContent = "This browser cannot keep the page for offline use.";
    return;
  }
  try {
    await navigator.serviceWorker.register("sw.js");
    await navigator.serviceWorker.ready;
    if (!navigator.serviceWorker.controller) {
      await new Promise((resolve) => navigator.serviceWorker.addEventListener("controllerchange", resolve, { once: true }));
    }
    $("offline-state").textContent = "Saved on this device: the page, the runtime and the models work without a network.";
    event("offline-ready");
  } catch (e) {
    $("offline-state").textContent = `This page could not be kept for offline use (${e.message}).`;
  }
}

async function serverFeatures() {
  try {
    const r = await fetch("api/features", { cache: "no-store" });
    state.server = r.ok ? await r.json() : {};
  } catch { state.server = {}; }
  $("explain-photo").hidden = !state.server.explain;
  $("server-links").hidden = !state.server.docs;
}

document.addEventListener("DOMContentLoaded", () => {
  $("photo-form").addEventListener("submit", describePhoto);
  $("explain-photo").addEventListener("click", explainPhoto);
  $("camera").addEventListener("click", () => (state.running ? stopCamera() : startCamera()));
  $("describe").addEventListener("click", () => { if (state.running) output.announce(state.assistant.describeNow()); });
  $("pause").addEventListener("click", () => {
    state.paused = !state.paused;
    setPressed($("pause"), state.paused);
    say(state.paused ? "paused" : "resumed");
  });
  $("mute").addEventListener("click", () => {
    output.muted = !output.muted;
    if (output.muted) output.stop();
    setPressed($("mute"), output.muted);
    logLine(output.muted ? "muted" : "sound on");
  });
  $("verbosity").addEventListener("change", () => { if (state.assistant) state.assistant.setVerbosity(Number($("verbosity").value)); });
  for (const id of ["speech", "sounds", "vibration"]) $(id).addEventListener("change", () => { if (output) applySettings(); });
  $("facing").addEventListener("change", () => { if (state.running) { stopCamera(); startCamera(); } });
  offline();
  serverFeatures();
});
