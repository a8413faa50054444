// What kerasbert's Python predictor does around the graph, in JavaScript, for Node and the browser:
// encode a text (or a text pair) as training did, feed int64 ids, turn logits into labels.
// Everything it needs is in the export's kerasbert.json; no kerasbert code runs here.
//
// Why not the tokenizer's own truncation: transformers.js cuts a too-long encoding at
// model_max_length, dropping the final [SEP] that kerasbert (like Python transformers) keeps;
// it knows no `tail` or `head_tail` mode, and it cuts a pair at its end instead of taking tokens
// from the longer text first. The ids then differ from the ones the model was trained on, and
// the probabilities move (by up to 0.11 on BBC News articles at 128 tokens). `pairBudgets` and
// `select` are kerasbert/common/truncation.py's `pair_budgets` and `select`, in JavaScript.

// Sun et al.'s split of BERT's 510 text tokens for `head_tail`: 128 from the start, the rest from
// the end; shorter budgets keep the proportion.
const HEAD_TOKENS = 128;
const HEAD_TAIL_BUDGET = 510;

// Tokens the first and second text of a pair keep when together they may have `room`: the
// shorter stays whole if the longer can make room, else each gets half (the longer the odd one).
function pairBudgets(first, second, room) {
  room = Math.max(room, 0);
  if (first + second <= room) return [first, second];
  const [shorter, longer] = first <= second ? [first, second] : [second, first];
  let shorterKeep = shorter;
  let longerKeep = shorter > room ? shorter : Math.max(shorter, room - shorter);
  if (shorterKeep + longerKeep > room) {
    shorterKeep = Math.floor(room / 2);
    longerKeep = shorterKeep + (room % 2);
  }
  return first <= second ? [shorterKeep, longerKeep] : [longerKeep, shorterKeep];
}

// `keep` of one text's token ids, as the export's truncation mode says.
function select(ids, keep, mode) {
  if (keep >= ids.length) return ids;
  if (keep <= 0) return [];
  if (mode === "head") return ids.slice(0, keep);
  if (mode === "tail") return ids.slice(ids.length - keep);
  // keep * 64 / 255 is never a half, so Math.round rounds as Python's round() does.
  const head = Math.round((keep * HEAD_TOKENS) / HEAD_TAIL_BUDGET);
  return [...ids.slice(0, head), ...ids.slice(ids.length - (keep - head))];
}

/**
 * Checks that these apps can run the export `info` (its kerasbert.json) and returns it.
 */
export function checkExport(info) {
  if (info.long_documents === "windows") {
    throw new Error(
      "This export averages overlapping windows over long texts (kerasbert.json long_documents: " +
        "windows); these examples truncate. Use kerasbert's Python predictor for it.",
    );
  }
  if (!["head", "tail", "head_tail"].includes(info.truncation ?? "head")) {
    throw new Error(`Unknown truncation ${JSON.stringify(info.truncation)} in kerasbert.json.`);
  }
  if (info.calibration && info.calibration.method !== "temperature") {
    throw new Error(`Unknown calibration ${JSON.stringify(info.calibration)} in kerasbert.json.`);
  }
  const wrong = (info.inputs ?? []).filter((input) => input.dtype !== "int64");
  if (!info.inputs || wrong.length) {
    throw new Error("This export's graphs do not take int64 ids; re-export it with `kerasbert export`.");
  }
  return info;
}

/**
 * An encoder for the export `info`: item => {ids, types}, [CLS] text [SEP] (text_pair [SEP]) cut
 * to info.max_length as training cut it. An item is a string, or {text, text_pair} for a pair
 * export. `tokenize(text)` gives a text's token ids without special tokens; cls and sep are the
 * ids of [CLS] and [SEP] (`tokenizer.encode("")` gives both).
 */
export function makeEncoder(info, tokenize, cls, sep) {
  const mode = info.truncation ?? "head";
  return (item) => {
    const text = typeof item === "string" ? item : item.text;
    if (typeof text !== "string" || (info.pair && typeof item.text_pair !== "string")) {
      throw new Error(
        `Expected ${info.pair ? '{"text": ..., "text_pair": ...}' : "a text"}, got ${JSON.stringify(item)}`,
      );
    }
    const first = tokenize(text);
    if (!info.pair) {
      const ids = [cls, ...select(first, info.max_length - 2, mode), sep];
      return { ids, types: ids.map(() => 0) };
    }
    const second = tokenize(item.text_pair);
    const [firstKeep, secondKeep] = pairBudgets(first.length, second.length, info.max_length - 3);
    const head = [cls, ...select(first, firstKeep, mode), sep];
    const tail = [...select(second, secondKeep, mode), sep];
    return { ids: [...head, ...tail], types: [...head.map(() => 0), ...tail.map(() => 1)] };
  };
}

/**
 * The graph's feeds for a batch of encodings: int64 input_ids, attention_mask and token_type_ids,
 * padded on the right to the longest. `Tensor` is onnxruntime's or transformers.js's.
 */
export function feeds(encodings, padId, Tensor) {
  const width = Math.max(...encodings.map((encoding) => encoding.ids.length));
  const tensor = (values, fill) =>
    new Tensor(
      "int64",
      BigInt64Array.from(
        encodings.flatMap((encoding) => [...values(encoding), ...Array(width - encoding.ids.length).fill(fill)]),
        BigInt,
      ),
      [encodings.length, width],
    );
  return {
    input_ids: tensor((encoding) => encoding.ids, padId),
    attention_mask: tensor((encoding) => encoding.ids.map(() => 1), 0),
    token_type_ids: tensor((encoding) => encoding.types, 0),
  };
}

/**
 * Makes a transformers.js pipeline encode as kerasbert does (texts, or {text, text_pair} items
 * for a pair export). The pipeline calls `tokenizer(texts, {padding, truncation})`, which
 * transformers.js forwards to `tokenizer._call`: an internal, so the version is pinned.
 */
export function encodeLikeKerasbert(tokenizer, info, Tensor) {
  const [cls, sep] = tokenizer.encode("");
  const encode = makeEncoder(info, (text) => tokenizer.encode(text, { add_special_tokens: false }), cls, sep);
  tokenizer._call = (items) =>
    feeds((Array.isArray(items) ? items : [items]).map(encode), info.pad_token_id, Tensor);
  return tokenizer;
}

// A single-label export may carry a temperature fitted on its run's validation split
// (kerasbert.json `calibration`); its probabilities are then softmax(logits / temperature).
const temperature = (info) => (info.task === "multi_label" ? 1 : (info.calibration?.temperature ?? 1));

/**
 * Probabilities of one row of logits, in label order (float64, as kerasbert computes them): a
 * softmax (of the logits over the temperature), or for a multi-label export each label's sigmoid.
 */
export function probabilities(logits, info) {
  const values = Array.from(logits, (value) => Number(value) / temperature(info));
  if (info.task === "multi_label") return values.map((value) => 0.5 * (1 + Math.tanh(0.5 * value)));
  const top = Math.max(...values);
  const exponentials = values.map((value) => Math.exp(value - top));
  const sum = exponentials.reduce((total, value) => total + value, 0);
  return exponentials.map((value) => value / sum);
}

/**
 * One text's answer: {label, probabilities: {label: p}}; for a multi-label export {labels, ...},
 * every label whose probability reaches its kerasbert.json threshold, in label order.
 */
export function decide(probs, info) {
  const byLabel = Object.fromEntries(info.labels.map((label, index) => [label, probs[index]]));
  if (info.task === "multi_label") {
    const labels = info.labels.filter((label) => byLabel[label] >= info.thresholds[label]);
    return { labels, probabilities: byLabel };
  }
  return { label: info.labels[probs.indexOf(Math.max(...probs))], probabilities: byLabel };
}

/**
 * One text's answer from the pipeline's output with `top_k: null` ([{label, score}], best first).
 * The pipeline's softmax knows no temperature: p^(1/T) / sum(p^(1/T)) is softmax(logits / T),
 * since the softmax's normaliser cancels.
 */
export function decideFromPipeline(ranked, info) {
  const scores = Object.fromEntries(ranked.map(({ label, score }) => [label, score]));
  const raw = info.labels.map((label) => scores[label]);
  const divisor = temperature(info); // 1 for multi-label: sigmoids are not renormalised
  if (divisor === 1) return decide(raw, info);
  const powered = raw.map((p) => p ** (1 / divisor));
  const sum = powered.reduce((total, value) => total + value, 0);
  return decide(powered.map((value) => value / sum), info);
}
