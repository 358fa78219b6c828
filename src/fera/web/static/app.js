// fera's page: photo upload and live camera. Announcements go to ONE polite live region (your screen
// reader reads them) or, when "Speak with the browser's voice" is on, to speechSynthesis instead;
// never both. Everything is sent only to the fera server on this computer.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { ws: null, stream: null, paused: false, muted: false, waiting: false, sentAt: 0, timer: null,
                lastLive: 0, pending: null, lastFile: null, photoRequest: 0 };
window.fera = { rtts: [], announcements: [], earcons: [] };  // read by the browser tests
const LIVE_GAP_MS = 1000;  // at most one live-region update per second; the newest waiting text wins
const FRAME_GAP_MS = 66;   // about 15 frames per second at most

function showAlert(text) { $("alert").textContent = text; }

function logLine(text) {
  const li = document.createElement("li");
  li.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  $("log").prepend(li);
  while ($("log").children.length > 30) $("log").lastChild.remove();
}

function setLive(text) {
  const region = $("announcer");
  region.textContent = "";  // so the same sentence twice is read twice
  setTimeout(() => { region.textContent = text; }, 50);
  state.lastLive = performance.now();
}

// The assistant's own earcons (the same sounds `fera assist --speech earcons` plays), already panned by the
// server as the runtime pans them; each file is fetched and decoded once.
const sounds = new Map();

function earconUrl(code, position) {
  const edge = code.startsWith("edge_");  // "edge_left": the edge sound, at the left
  const name = edge ? "edge" : code, where = edge ? position || code.slice(5) : position;
  return `/earcons/${encodeURIComponent(name)}.wav` + (where ? `?position=${encodeURIComponent(where)}` : "");
}

async function playEarcon(code, position) {
  const url = earconUrl(code, position);
  try {
    const ctx = playEarcon.ctx || (playEarcon.ctx = new AudioContext());
    if (!sounds.has(url)) {
      sounds.set(url, fetch(url).then((r) => {
        if (!r.ok) throw new Error(`the server answered ${r.status}`);
        return r.arrayBuffer();
      }).then((data) => {
        window.fera.earcons.push({ url, bytes: Array.from(new Uint8Array(data)) });
        return ctx.decodeAudioData(data);
      }));
    }
    const source = ctx.createBufferSource();
    source.buffer = await sounds.get(url);
    source.connect(ctx.destination);
    source.start();
  } catch (e) { sounds.delete(url); logLine(`sound ${code} not played: ${e.message}`); }
}

function announce(text, earcon, position) {
  window.fera.announcements.push(text || earcon || "");
  logLine(text || `(sound: ${earcon})`);
  if (state.muted) return;
  if (!text) { if (earcon) playEarcon(earcon, position); return; }
  if ($("speech").checked && "speechSynthesis" in window) {
    speechSynthesis.cancel();  // the newest wins
    speechSynthesis.speak(new SpeechSynthesisUtterance(text));
    return;
  }
  const wait = LIVE_GAP_MS - (performance.now() - state.lastLive);
  if (wait <= 0) { setLive(text); return; }
  if (state.pending) clearTimeout(state.pending.timer);
  state.pending = { text, timer: setTimeout(() => { state.pending = null; setLive(text); }, wait) };
}

async function postPhoto(url, file) {
  const body = new FormData();
  body.append("file", file);
  const r = await fetch(url, { method: "POST", body });
  const data = await r.json().catch(() => ({ error: `the server answered ${r.status}` }));
  if (!r.ok) throw new Error(data.error || data.detail || `the server answered ${r.status}`);
  return data;
}

// The previous photo's result (picture, text alternative, caption, Grad-CAM) goes as soon as a new
// upload starts, and "Show where the model looked" is off until the new one has faces: a failed
// upload never leaves the old photo's description behind.
function clearPhoto() {
  state.lastFile = null;
  $("explain-photo").disabled = true;
  $("photo-figure").hidden = true;
  $("photo-annotated").removeAttribute("src");
  $("photo-annotated").alt = "";
  $("photo-caption").textContent = "";
  $("explain-result").replaceChildren();
}

async function describePhoto(event) {
  event.preventDefault();
  const file = $("photo-file").files[0];
  if (!file) { showAlert("Choose a photo first."); return; }
  showAlert("");
  clearPhoto();
  $("photo-sentence").textContent = "Working…";
  const request = ++state.photoRequest;  // only the newest upload's answer counts
  try {
    const data = await postPhoto("/api/analyze", file);
    if (request !== state.photoRequest) return;
    state.lastFile = file;
    $("photo-sentence").textContent = data.sentence;
    $("photo-annotated").src = data.annotated;
    $("photo-annotated").alt = data.annotated_alt;
    $("photo-caption").textContent = data.sentence;
    $("photo-figure").hidden = false;
    $("explain-photo").disabled = data.faces.length === 0;
    announce(data.sentence);
  } catch (e) {
    if (request !== state.photoRequest) return;
    clearPhoto();
    $("photo-sentence").textContent = "";
    showAlert(`The photo could not be described: ${e.message}`);
  }
}

async function explainPhoto() {
  if (!state.lastFile) return;
  $("explain-result").textContent = "Working…";
  try {
    const data = await postPhoto("/api/explain", state.lastFile);
    const figs = data.faces.map((f) => {
      const fig = document.createElement("figure"), img = document.createElement("img");
      const cap = document.createElement("figcaption");
      img.src = f.overlay; img.alt = f.alt; cap.textContent = f.alt;
      fig.append(img, cap);
      return fig;
    });
    $("explain-result").replaceChildren(...figs);
    announce(data.faces.map((f) => f.alt).join(". ") || "no face");
  } catch (e) {
    $("explain-result").replaceChildren();
    showAlert(`Grad-CAM is not available: ${e.message}`);
  }
}

function cameraMessage(e) {
  if (e.name === "NotAllowedError") return "Camera permission was denied. Allow the camera for this page in the browser's settings, then press Start camera again.";
  if (e.name === "NotFoundError") return "No camera was found. Connect one, then press Start camera again.";
  if (e.name === "NotReadableError") return "The camera is in use by another program. Close it, then press Start camera again.";
  return `The camera could not start (${e.message || e.name}).`;
}

function setControls(on) {
  $("camera").textContent = on ? "Stop camera" : "Start camera";
  $("camera").setAttribute("aria-pressed", String(on));
  $("describe").disabled = !on;
  $("pause").disabled = !on;
  if (!on) { state.paused = false; $("pause").setAttribute("aria-pressed", "false"); }
}

async function startCamera() {
  showAlert("");
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    showAlert("This browser cannot use a camera on this page: open fera at 127.0.0.1 on this computer, or use a browser with camera support."); return;
  }
  try {
    state.stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
  } catch (e) { showAlert(cameraMessage(e)); return; }
  $("preview").srcObject = state.stream;
  $("preview").setAttribute("data-on", "");
  await $("preview").play().catch(() => {});
  const ws = new WebSocket(`ws://${location.host}/api/live`);
  ws.onopen = () => {
    ws.send(JSON.stringify({ type: "verbosity", value: Number($("verbosity").value) }));
    $("live-state").textContent = "Camera on.";
    announce("camera on");
    sendFrame();
  };
  ws.onmessage = (m) => onEvent(JSON.parse(m.data));
  ws.onclose = () => { if (state.ws === ws) { stopCamera(); showAlert("The connection to fera was lost. Press Start camera to try again."); } };
  state.ws = ws;
  setControls(true);
}

function stopCamera() {
  const ws = state.ws;
  state.ws = null;
  if (ws) ws.close();
  clearTimeout(state.timer);
  if (state.stream) state.stream.getTracks().forEach((t) => t.stop());
  state.stream = null; state.waiting = false;
  $("preview").removeAttribute("data-on");
  $("live-state").textContent = "Camera off.";
  setControls(false);
}

function sendFrame() {
  const ws = state.ws, video = $("preview");
  if (!ws || ws.readyState !== WebSocket.OPEN || state.waiting) return;
  if (state.paused || !video.videoWidth) { state.timer = setTimeout(sendFrame, 200); return; }
  const scale = Math.min(1, 640 / video.videoWidth);
  const canvas = sendFrame.canvas || (sendFrame.canvas = document.createElement("canvas"));
  canvas.width = Math.round(video.videoWidth * scale); canvas.height = Math.round(video.videoHeight * scale);
  canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
  canvas.toBlob((blob) => {
    if (!blob || state.ws !== ws) return;
    state.waiting = true; state.sentAt = performance.now();
    ws.send(blob);
  }, "image/jpeg", 0.8);
}

function onEvent(ev) {
  if (ev.type === "announce") announce(ev.text, ev.earcon, ev.position);
  else if (ev.type === "frame") {
    const rtt = performance.now() - state.sentAt;
    window.fera.rtts.push(rtt);
    state.waiting = false;
    const n = ev.faces.length;
    $("live-state").textContent = `Camera on${state.paused ? ", paused" : ""}: ${n} face${n === 1 ? "" : "s"} in view; ` +
      `last frame answered in ${Math.round(rtt)} ms.`;
    state.timer = setTimeout(sendFrame, Math.max(0, FRAME_GAP_MS - rtt));
  } else if (ev.type === "error") logLine(`error: ${ev.message}`);
}

function toggle(button, key, onText, offText) {
  state[key] = !state[key];
  button.setAttribute("aria-pressed", String(state[key]));
  if (onText) announce(state[key] ? onText : offText);
}

document.addEventListener("DOMContentLoaded", () => {
  $("photo-form").addEventListener("submit", describePhoto);
  $("explain-photo").addEventListener("click", explainPhoto);
  $("camera").addEventListener("click", () => (state.ws ? stopCamera() : startCamera()));
  $("describe").addEventListener("click", () => state.ws && state.ws.send(JSON.stringify({ type: "describe" })));
  $("pause").addEventListener("click", () => toggle($("pause"), "paused", "paused", "resumed"));
  $("mute").addEventListener("click", () => {
    if (!state.muted && "speechSynthesis" in window) speechSynthesis.cancel();
    toggle($("mute"), "muted");
    logLine(state.muted ? "muted" : "sound on");
  });
  $("verbosity").addEventListener("change", () => {
    if (state.ws) state.ws.send(JSON.stringify({ type: "verbosity", value: Number($("verbosity").value) }));
  });
});
