// The page of `kerasbert serve`: type texts (or pairs), classify them with /v1/classify, draw
// each label's calibrated probability as a bar and the decision (or the abstention), then ask
// /v1/explain which words drove each label and colour them. Plain browser JavaScript, no build
// step, no request outside this server. User text only ever goes into textContent.
"use strict";

// info: /v1/model; asked: the minimum confidence sent; results: per input, its answer and words.
const state = { info: null, asked: null, results: [] };
const $ = (selector, root = document) => root.querySelector(selector);

function element(tag, attributes = {}, text = null) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text !== null) node.textContent = text;
  return node;
}

// What the page shows of a probability; the tests read these digits back.
function percent(probability) {
  return `${(probability * 100).toFixed(1)}%`;
}

// A score is a difference of probabilities: shown in percentage points, two significant digits.
function signed(score) {
  return `${score >= 0 ? "+" : "−"}${(Math.abs(score) * 100).toPrecision(2)} pt`;
}

async function call(path, body) {
  const response = await fetch(path, {
    method: body === undefined ? "GET" : "POST",
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = await response.json().catch(() => null);
  if (!response.ok) {
    const message = answer?.error?.message ?? `${path}: HTTP ${response.status}`;
    throw new Error(message);
  }
  return answer;
}

function setStatus(message, error = false) {
  const status = $("#status");
  status.textContent = message;
  status.classList.toggle("error", error);
  if (error) status.dataset.error = message;
  else delete status.dataset.error;
  status.setAttribute("role", error ? "alert" : "status");
}

function setBusy(busy) {
  document.body.dataset.busy = String(busy);
  $("#classify").disabled = busy;
}

// ---- the form -------------------------------------------------------------------------------

function itemNoun() {
  return state.info.pair ? "Pair" : "Text";
}

function renumberItems() {
  const items = [...document.querySelectorAll("#items .item")];
  items.forEach((item, index) => {
    item.id = `item-${index}`;
    $("legend", item).textContent = `${itemNoun()} ${index + 1}`;
    for (const area of item.querySelectorAll("textarea")) {
      area.id = `item-${index}-part-${area.dataset.part}`;
      area.previousElementSibling.htmlFor = area.id;
    }
    $(".remove", item).hidden = items.length === 1;
    $(".remove", item).setAttribute("aria-label", `Remove ${itemNoun().toLowerCase()} ${index + 1}`);
  });
  const limit = state.info.limits.max_texts_per_request;
  $("#add-item").disabled = items.length >= limit;
  $("#add-item").textContent = state.info.pair ? "Add a pair" : "Add a text";
}

function addItem() {
  const item = $("#item-template").content.firstElementChild.cloneNode(true);
  const parts = state.info.pair ? ["Text", "Second text"] : ["Text"];
  item.classList.toggle("pair", state.info.pair);
  parts.forEach((name, part) => {
    const wrapper = element("div");
    wrapper.append(element("label", {}, name));
    const area = element("textarea", {
      "data-part": String(part),
      rows: "3",
      placeholder: part ? "Type or paste the second text" : "Type or paste a text",
    });
    wrapper.append(area);
    $(".parts", item).append(wrapper);
  });
  $(".remove", item).addEventListener("click", () => {
    item.remove();
    renumberItems();
    $("#items textarea").focus();
  });
  $("#items").append(item);
  renumberItems();
  return item;
}

function readItems() {
  const inputs = [];
  for (const [index, item] of [...document.querySelectorAll("#items .item")].entries()) {
    const texts = [...item.querySelectorAll("textarea")].map((area) => area.value);
    if (texts.every((text) => !text.trim())) {
      throw new Error(`${itemNoun()} ${index + 1} is empty: type a text or remove it.`);
    }
    inputs.push(state.info.pair ? texts : texts[0]);
  }
  return inputs;
}

function minConfidence() {
  const value = Number($("#min-confidence").value);
  return state.info.task === "multi_label" || value <= 0 ? null : value;
}

function showMinConfidence() {
  const value = Number($("#min-confidence").value);
  $("#min-confidence-value").textContent = value > 0 ? percent(value) : "off";
}

// ---- the results --------------------------------------------------------------------------

function decisionOf(answer) {
  if (state.info.task === "multi_label") return answer.labels;
  return answer.label;
}

// The label whose words are coloured at first: the decided one (multi-label: the first of the
// set), else the most probable (an abstention, an empty set).
function defaultLabel(answer) {
  const decided = decisionOf(answer);
  if (Array.isArray(decided) ? decided.length : decided) return Array.isArray(decided) ? decided[0] : decided;
  return Object.entries(answer.probabilities).sort((a, b) => b[1] - a[1])[0][0];
}

function renderDecision(result, answer) {
  const decision = element("p", { class: "decision" });
  if (state.info.task === "multi_label") {
    result.dataset.labels = JSON.stringify(answer.labels);
    if (answer.labels.length) {
      decision.append(answer.labels.length > 1 ? "Labels: " : "Label: ");
      answer.labels.forEach((label, index) => {
        if (index) decision.append(", ");
        decision.append(element("strong", {}, label));
      });
    } else {
      decision.textContent = "No label: none reaches its threshold.";
    }
    result.dataset.abstained = String(!answer.labels.length);
  } else if (answer.label === null) {
    const [top, probability] = Object.entries(answer.probabilities).sort((a, b) => b[1] - a[1])[0];
    decision.textContent =
      `No label: the top probability, ${percent(probability)} (${top}), is below the ` +
      `minimum confidence of ${percent(state.asked)}.`;
    result.dataset.abstained = "true";
  } else {
    result.dataset.label = answer.label;
    result.dataset.abstained = "false";
    decision.append("Label: ", element("strong", {}, answer.label), ` (${percent(answer.probabilities[answer.label])})`);
  }
  return decision;
}

function renderBars(result, answer, index) {
  const list = element("ul", { class: "bars", "aria-label": "Probability of each label" });
  const decided = decisionOf(answer);
  const chosen = new Set(Array.isArray(decided) ? decided : decided === null ? [] : [decided]);
  const thresholds = state.info.metadata.thresholds ?? null;
  for (const label of state.info.labels) {
    const probability = answer.probabilities[label];
    const row = element("li", { class: "bar-row", "data-label": label });
    row.classList.toggle("chosen", chosen.has(label));
    const button = element("button", {
      type: "button",
      class: "bar-button",
      "aria-pressed": "false",
      disabled: "",
      title: "Show the words for this label",
    });
    button.append(element("span", { class: "name" }, label));
    const track = element("span", { class: "track", "aria-hidden": "true" });
    const fill = element("span", { class: "fill" });
    fill.style.width = `${(probability * 100).toFixed(2)}%`;
    track.append(fill);
    if (thresholds && label in thresholds) {
      const mark = element("span", { class: "threshold", title: `threshold ${percent(thresholds[label])}` });
      mark.style.left = `${(thresholds[label] * 100).toFixed(2)}%`;
      track.append(mark);
    }
    button.append(track, element("span", { class: "value" }, percent(probability)));
    button.addEventListener("click", () => showWords(index, label));
    row.append(button);
    list.append(row);
  }
  return list;
}

function renderResults(inputs, answers) {
  const container = $("#results");
  container.replaceChildren();
  state.results = answers.map((answer, index) => ({ input: inputs[index], answer, explained: null }));
  answers.forEach((answer, index) => {
    const result = element("article", { class: "result", id: `result-${index}`, "aria-labelledby": `result-${index}-title` });
    result.append(element("h3", { id: `result-${index}-title` }, `${itemNoun()} ${index + 1}`));
    result.append(renderDecision(result, answer), renderBars(result, answer, index));
    result.append(element("div", { class: "explanation" }));
    container.append(result);
  });
  $("#results-section").hidden = false;
}

function wordsOfSegment(source, words, scale) {
  const characters = Array.from(source); // the server's offsets count code points
  const paragraph = element("p", { class: "words" });
  let at = 0;
  words.forEach(({ word, score }) => {
    if (word.start > at) paragraph.append(characters.slice(at, word.start).join(""));
    const span = element("span", { class: "word" }, characters.slice(word.start, word.end).join(""));
    if (score !== undefined) {
      span.dataset.score = String(score);
      span.title = signed(score);
      const strength = scale > 0 ? Math.min(1, Math.abs(score) / scale) : 0;
      // Besides the colour, an underline (solid: for, dotted: against) marks the words that
      // matter, for readers who cannot tell green from red.
      if (strength >= 0.1) span.classList.add(score >= 0 ? "for" : "against");
      span.style.backgroundColor = `rgba(var(--${score >= 0 ? "for" : "against"}), ${(0.7 * strength).toFixed(3)})`;
    }
    paragraph.append(span);
    at = Math.max(at, word.end);
  });
  if (at < characters.length) paragraph.append(characters.slice(at).join(""));
  return paragraph;
}

function showWords(index, label) {
  const entry = state.results[index];
  const result = $(`#result-${index}`);
  for (const button of result.querySelectorAll(".bar-button")) {
    button.setAttribute("aria-pressed", String(button.closest(".bar-row").dataset.label === label));
  }
  const box = $(".explanation", result);
  box.replaceChildren();
  const explained = entry.explained;
  if (!explained) return;
  const attribution = explained.attributions.find((item) => item.label === label);
  if (!attribution) return;
  const scale = Math.max(0, ...attribution.scores.map(Math.abs));
  box.append(element("p", { class: "explained-for" }, `Words for and against ${label}:`));
  const sources = state.info.pair ? entry.input : [entry.input];
  sources.forEach((source, segment) => {
    const words = explained.words
      .map((word, position) => ({ word, score: attribution.scores[position] }))
      .filter(({ word }) => word.segment === segment);
    const paragraph = wordsOfSegment(source, words, scale);
    paragraph.dataset.segment = String(segment);
    if (state.info.pair) paragraph.prepend(element("span", { class: "segment-name" }, segment ? "Second text" : "Text"));
    box.append(paragraph);
  });
  const ranked = explained.words
    .map((word, position) => [word.text, attribution.scores[position]])
    .sort((a, b) => b[1] - a[1]);
  const strongest = (rows) => rows.slice(0, 3).map(([word, score]) => `${word} (${signed(score)})`).join(", ");
  const supporting = ranked.filter(([, score]) => score > 0);
  const opposing = ranked.filter(([, score]) => score < 0).reverse();
  const summary = [];
  if (supporting.length) summary.push(`Most for ${label}: ${strongest(supporting)}.`);
  if (opposing.length) summary.push(`Most against: ${strongest(opposing)}.`);
  if (!summary.length) summary.push(`Hiding any one word does not move the probability of ${label}.`);
  box.append(element("p", { class: "top-words" }, summary.join(" ")));
}

function attachExplanations(explained) {
  explained.forEach((item, index) => {
    state.results[index].explained = item;
    const result = $(`#result-${index}`);
    for (const button of result.querySelectorAll(".bar-button")) button.disabled = false;
    showWords(index, defaultLabel(state.results[index].answer));
  });
}

// ---- the flow -----------------------------------------------------------------------------

async function classify(event) {
  event.preventDefault();
  let inputs;
  try {
    inputs = readItems();
  } catch (error) {
    setStatus(error.message, true);
    return;
  }
  const body = state.info.pair ? { pairs: inputs } : { texts: inputs };
  const minimum = minConfidence();
  if (minimum !== null) body.min_confidence = minimum;
  state.asked = minimum;
  setBusy(true);
  setStatus("Classifying…");
  try {
    const classified = await call("/v1/classify", body);
    renderResults(inputs, classified.results);
    if ($("#explain").checked) {
      setStatus("Finding the words that drove each label…");
      const explained = await call("/v1/explain", { ...body, labels: state.info.labels });
      attachExplanations(explained.results);
    }
    setStatus(`Done: ${inputs.length} ${inputs.length === 1 ? itemNoun().toLowerCase() : `${itemNoun().toLowerCase()}s`}.`);
  } catch (error) {
    setStatus(error.message, true);
  } finally {
    setBusy(false);
  }
}

function describeModel(info) {
  const name = info.metadata?.source?.run ?? "";
  $("#model-name").textContent = name ? `· ${name}` : "";
  const task = info.task === "multi_label" ? "multi-label (any number of labels per text)" : "single-label";
  const inputs = info.pair ? "text pairs" : "texts";
  const calibrated = info.metadata?.calibration ? ", calibrated" : "";
  $("#model-summary").textContent =
    `Classifies ${inputs} into ${info.labels.length} labels, ${task}${calibrated}; ` +
    `reads up to ${info.max_length} tokens; ${info.variant} model.`;
}

async function start() {
  try {
    state.info = await call("/v1/model");
  } catch (error) {
    $("#model-summary").textContent = `Could not read /v1/model: ${error.message}`;
    return;
  }
  describeModel(state.info);
  $("#confidence-control").hidden = state.info.task === "multi_label";
  addItem();
  $("#add-item").addEventListener("click", () => $("textarea", addItem()).focus());
  $("#min-confidence").addEventListener("input", showMinConfidence);
  $("#form").addEventListener("submit", classify);
  $("#form").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) $("#form").requestSubmit();
  });
  $("#classify").disabled = false;
  document.body.dataset.ready = "true";
}

document.addEventListener("DOMContentLoaded", start);
