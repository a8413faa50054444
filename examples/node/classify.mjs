// Classify texts with a kerasbert export through transformers.js's text-classification pipeline,
// offline: the export folder is a Hugging Face model folder (config.json, tokenizer files, flat
// model.onnx / model.int8.onnx with int64 inputs).
//
//   npm ci --ignore-scripts --prefix examples/node          # once
//   node examples/node/classify.mjs exported/<run> fp32 texts.jsonl
//   node examples/node/classify.mjs exported/<run> int8 < texts.jsonl
//
// Input: one JSON object per line, {"text": ...} (a pair export: {"text": ..., "text_pair": ...}).
// Output: one JSON line per text, {"label": ..., "probabilities": {label: p, ...}}; a multi-label
// export gives "labels": those reaching their kerasbert.json thresholds.
import fs from "node:fs";
import path from "node:path";
import { env, pipeline, Tensor } from "@huggingface/transformers";
import { checkExport, decideFromPipeline, encodeLikeKerasbert } from "./kerasbert.mjs";

const [exportDir, variant = "int8", input] = process.argv.slice(2);
if (!exportDir || !["fp32", "int8"].includes(variant)) {
  console.error("usage: node classify.mjs EXPORT_DIR [fp32|int8] [TEXTS.jsonl]   (texts on stdin without a file)");
  process.exit(2);
}
const info = checkExport(JSON.parse(fs.readFileSync(path.join(exportDir, "kerasbert.json"), "utf8")));

env.allowRemoteModels = false; // the export folder only, never the Hugging Face Hub
const classifier = await pipeline("text-classification", path.resolve(exportDir), {
  subfolder: "", // the export is flat: model.onnx beside config.json, not in onnx/
  model_file_name: variant === "int8" ? "model.int8" : "model",
  dtype: "fp32", // adds no suffix to the file name; the int8 graph is chosen by its name above
});
// Truncate (and encode pairs) as kerasbert did in training: see kerasbert.mjs for why.
encodeLikeKerasbert(classifier.tokenizer, info, Tensor);

const lines = fs.readFileSync(input ?? 0, "utf8").split("\n").filter((line) => line.trim());
for (const line of lines) {
  const item = JSON.parse(line);
  // One text per call; top_k: null gives every label's score (sigmoids for multi-label exports).
  const ranked = await classifier(info.pair ? [item] : [item.text], { top_k: null });
  console.log(JSON.stringify(decideFromPipeline(ranked[0], info)));
}
