// Classify texts with a kerasbert export on plain onnxruntime-node and @huggingface/tokenizers:
// what an app in any language does with the export's kerasbert.json, tokenizer.json and graph.
//
//   npm ci --ignore-scripts --prefix examples/node          # once
//   node examples/node/onnxruntime.mjs exported/<run> fp32 texts.jsonl
//   node examples/node/onnxruntime.mjs exported/<run> int8 < texts.jsonl
//
// Input and output as classify.mjs: {"text": ...} (pairs: {"text": ..., "text_pair": ...}) per
// line in; {"label" | "labels": ..., "probabilities": {label: p, ...}} per line out.
import fs from "node:fs";
import path from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";
import * as ort from "onnxruntime-node";
import { checkExport, decide, feeds, makeEncoder, probabilities } from "./kerasbert.mjs";

// As kerasbert's predictor: texts of similar length share a batch, so little is padding (and
// int8, which quantizes each batch's activations with one scale, gives the predictor's numbers).
const BATCH_SIZE = 32;

const [exportDir, variant = "int8", input] = process.argv.slice(2);
if (!exportDir || !["fp32", "int8"].includes(variant)) {
  console.error("usage: node onnxruntime.mjs EXPORT_DIR [fp32|int8] [TEXTS.jsonl]   (texts on stdin without a file)");
  process.exit(2);
}
const readJson = (name) => JSON.parse(fs.readFileSync(path.join(exportDir, name), "utf8"));
// labels, max_length, truncation, pair, task, thresholds, pad_token_id, inputs (all int64)
const info = checkExport(readJson("kerasbert.json"));
const tokenizer = new Tokenizer(readJson("tokenizer.json"), readJson("tokenizer_config.json"));
const [cls, sep] = tokenizer.encode("").ids;
const encode = makeEncoder(info, (text) => tokenizer.encode(text, { add_special_tokens: false }).ids, cls, sep);
const session = await ort.InferenceSession.create(
  path.join(exportDir, variant === "int8" ? "model.int8.onnx" : "model.onnx"),
);

const lines = fs.readFileSync(input ?? 0, "utf8").split("\n").filter((line) => line.trim());
const encodings = lines.map((line) => encode(JSON.parse(line)));
const order = [...encodings.keys()].sort((a, b) => encodings[a].ids.length - encodings[b].ids.length);
const answers = [];
for (let start = 0; start < order.length; start += BATCH_SIZE) {
  const batch = order.slice(start, start + BATCH_SIZE);
  const all = feeds(batch.map((index) => encodings[index]), info.pad_token_id, ort.Tensor);
  // Only the inputs the graph declares (kerasbert.json "inputs").
  const given = Object.fromEntries(info.inputs.map(({ name }) => [name, all[name]]));
  const { logits } = await session.run(given);
  const width = info.labels.length;
  batch.forEach((index, row) => {
    const rowLogits = logits.data.subarray(row * width, (row + 1) * width);
    answers[index] = decide(probabilities(rowLogits, info), info);
  });
}
for (const answer of answers) console.log(JSON.stringify(answer));
