// ONNX Runtime Web for the page: WebAssembly with SIMD everywhere, WebGPU where the browser has an adapter
// (falling back to WebAssembly when a session cannot be made on it). Files come from the page's own origin
// (site.json names them); nothing is fetched from anywhere else.
import { BlazeFace } from "./detect.mjs";
import { Classifier } from "./classify.mjs";
import { feraMeta } from "./onnx.mjs";

const here = (path) => new URL(path, document.baseURI).href;

async function bytesOf(path, progress) {
  const r = await fetch(here(path));
  if (!r.ok) throw new Error(`${path}: the server answered ${r.status}`);
  const data = new Uint8Array(await r.arrayBuffer());
  if (progress) progress(path, data.length);
  return data;
}

async function webgpuAdapter() {
  try { return Boolean(navigator.gpu && await navigator.gpu.requestAdapter()); } catch { return false; }
}

/** {ort, backend}: the library the site ships for this browser, set up to find its .wasm files here. */
export async function loadOrt(site, prefer = "auto") {
  const gpu = site.runtime.webgpu && prefer !== "wasm" && await webgpuAdapter();
  const ort = await import(here(gpu ? site.runtime.webgpu : site.runtime.wasm));
  ort.env.wasm.wasmPaths = here(site.runtime.dir);
  ort.env.wasm.numThreads = globalThis.crossOriginIsolated ? Math.min(4, Math.max(1, (navigator.hardwareConcurrency || 2) >> 1)) : 1;
  ort.env.wasm.proxy = false;
  ort.env.logLevel = "error";
  return { ort, backend: gpu ? "webgpu" : "wasm" };
}

async function session(ort, bytes, backend) {
  const eps = backend === "webgpu" ? ["webgpu", "wasm"] : ["wasm"];
  try {
    return await ort.InferenceSession.create(bytes, { executionProviders: eps, graphOptimizationLevel: "all" });
  } catch (e) {
    if (backend !== "webgpu") throw e;
    return ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
  }
}

/** The detector and the classifier of the site, ready to run: {detector, classifier, backend, meta}. */
export async function loadModels(site, { prefer = "auto", progress = null } = {}) {
  const { ort, backend } = await loadOrt(site, prefer);
  const [detBytes, clfBytes] = await Promise.all([bytesOf(site.detector.file, progress), bytesOf(site.classifier.file, progress)]);
  const meta = feraMeta(clfBytes);
  // an int8 classifier runs on WebAssembly even where the detector has WebGPU: onnxruntime-web's WebGPU kernels
  // give a uniform 1/7 for fera's per-channel int8 QDQ model (checked with Chromium's SwiftShader WebGPU), and a
  // network of 17M multiply-adds gains nothing from a GPU
  const clfBackend = site.classifier.int8 ? "wasm" : backend;
  const det = await session(ort, detBytes, backend);  // one after the other: onnxruntime-web sets up its
  const clf = await session(ort, clfBytes, clfBackend);  // WebAssembly once, and two first sessions at once race
  const size = site.detector.input_size, [h, w] = meta.input_size;
  let names = null;
  const detector = new BlazeFace(async (tensor) => {
    const out = await det.run({ [det.inputNames[0]]: new ort.Tensor("float32", tensor, [1, size, size, 3]) });
    if (names === null) {
      const by = Object.fromEntries(Object.entries(out).map(([k, t]) => [t.dims[t.dims.length - 1], k]));
      names = { reg: by[16], cls: by[1] };
    }
    return { regressors: out[names.reg].data, logits: out[names.cls].data };
  }, site.detector.model);
  const classifier = new Classifier(async (x, n) => {
    const out = await clf.run({ [clf.inputNames[0]]: new ort.Tensor("float32", x, [n, h, w, 1]) });
    return out[clf.outputNames[0]].data;
  }, meta);
  return { detector, classifier, backend, classifierBackend: clfBackend, meta };
}
