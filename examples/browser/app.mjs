// The browser example: transformers.js's text-classification pipeline on a kerasbert export, with
// the options classify.mjs passes in Node. Every file comes from this page's server (serve.mjs):
// the library, onnxruntime-web's wasm files and the export; no CDN, no Hugging Face Hub.
import { env, pipeline, Tensor } from "/node_modules/@huggingface/transformers/dist/transformers.min.js";
import { checkExport, decideFromPipeline, encodeLikeKerasbert } from "/node/kerasbert.mjs";

env.allowRemoteModels = false; // never the Hub
env.allowLocalModels = true; // off by default in browsers; "/model" is then fetched from this origin
env.useBrowserCache = false; // no Cache Storage copy: a re-exported model is read afresh
// transformers.js would fetch onnxruntime-web's wasm build from a CDN; this is the same build,
// installed beside it.
env.backends.onnx.wasm.wasmPaths = {
  mjs: "/node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.asyncify.mjs",
  wasm: "/node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.asyncify.wasm",
};

const info = await fetch("/model/kerasbert.json")
  .then((response) => response.json())
  .then(checkExport)
  .catch((error) => {
    document.getElementById("status").textContent = `Error: ${error.message}`;
    throw error;
  });
const classifiers = {};

async function load(variant) {
  classifiers[variant] ??= pipeline("text-classification", "/model", {
    subfolder: "", // the export is flat: /model/model.onnx, not /model/onnx/model.onnx
    model_file_name: variant === "int8" ? "model.int8" : "model",
    dtype: "fp32", // adds no suffix to the file name (the browser's default, q8, would)
    device: "wasm",
  }).then((classifier) => {
    encodeLikeKerasbert(classifier.tokenizer, info, Tensor); // truncate as training did
    return classifier;
  });
  return classifiers[variant];
}

/**
 * Classifies texts (or {text, text_pair} items for a pair export), one per call as a page would:
 * [{label | labels, probabilities: {label: p}}, ...].
 */
async function classify(items, variant) {
  const classifier = await load(variant);
  const answers = [];
  for (const item of items) {
    const ranked = await classifier([item], { top_k: null });
    answers.push(decideFromPipeline(ranked[0], info));
  }
  return answers;
}
window.kerasbert = { info, classify }; // what headless.mjs calls

const $ = (id) => document.getElementById(id);
const lines = (id) => $(id).value.split("\n").filter((line) => line.trim());
const html = (text) => text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

async function show() {
  $("classify").disabled = true;
  try {
    const texts = lines("texts");
    const pairs = lines("text-pairs");
    if (info.pair && pairs.length !== texts.length) throw new Error("Give one second text per text.");
    const items = info.pair ? texts.map((text, index) => ({ text, text_pair: pairs[index] })) : texts;
    const started = performance.now();
    const answers = await classify(items, $("variant").value);
    const rows = answers.map((answer, index) => {
      const probabilities = Object.entries(answer.probabilities)
        .map(([label, p]) => `${label} ${p.toFixed(3)}`).join(", ");
      const label = answer.labels ? answer.labels.join(", ") || "(none)" : answer.label;
      const text = info.pair ? `${html(texts[index])}<br><i>${html(pairs[index])}</i>` : html(texts[index]);
      return `<tr><td>${text}</td><td><b>${html(label)}</b></td><td>${html(probabilities)}</td></tr>`;
    });
    $("results").innerHTML = `<tr><th>text</th><th>${info.task === "multi_label" ? "labels" : "label"}</th>` +
      `<th>probabilities</th></tr>${rows.join("")}`;
    $("status").textContent = `${answers.length} texts in ${((performance.now() - started) / 1000).toFixed(2)} s.`;
  } catch (error) {
    $("status").textContent = `Error: ${error.message}`;
  }
  $("classify").disabled = false;
}

$("pairs").hidden = !info.pair;
$("classify").addEventListener("click", show);
load($("variant").value).then(
  () => {
    $("status").textContent = `Ready: ${info.labels.join(", ")}; texts cut at ${info.max_length} tokens.`;
    $("classify").disabled = false;
  },
  (error) => ($("status").textContent = `Error: ${error.message}`),
);
