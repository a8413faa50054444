// Run the browser example in headless Chromium and classify a JSONL file through the page, with
// the input and output of examples/node/classify.mjs, so that a script can compare the page with
// Python. Uses the system's Chromium (Debian: apt install chromium) through playwright-core, which
// downloads no browser; any request to a host other than 127.0.0.1 is refused and reported.
//
//   node examples/browser/headless.mjs exported/<run> int8 texts.jsonl [--node-modules DIR]
//        [--chromium /usr/bin/chromium]
import { spawn } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";

const here = path.dirname(new URL(import.meta.url).pathname);
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    "node-modules": { type: "string", default: path.join(here, "..", "node", "node_modules") },
    chromium: { type: "string", default: "/usr/bin/chromium" },
  },
});
const [exportDir, variant = "int8", input] = positionals;
if (!exportDir || !["fp32", "int8"].includes(variant)) {
  console.error("usage: node headless.mjs EXPORT_DIR [fp32|int8] [TEXTS.jsonl] [--node-modules DIR] [--chromium PATH]");
  process.exit(2);
}
const nodeModules = path.resolve(values["node-modules"]);
// playwright-core from the examples/node install (or --node-modules), wherever this file is.
const { chromium } = createRequire(path.join(nodeModules, "..", "x.js"))("playwright-core");
const lines = fs.readFileSync(input ?? 0, "utf8").split("\n").filter((line) => line.trim());
const items = lines.map((line) => JSON.parse(line));

const serve = [path.join(here, "serve.mjs"), exportDir, "--port", "0", "--node-modules", nodeModules];
const server = spawn(process.execPath, serve, { stdio: ["ignore", "pipe", "inherit"] });
const origin = await new Promise((resolve, reject) => {
  server.stdout.on("data", (data) => {
    const found = String(data).match(/http:\/\/127\.0\.0\.1:\d+/);
    if (found) resolve(found[0]);
  });
  server.on("exit", (code) => reject(new Error(`serve.mjs exited with ${code}`)));
});
const profile = fs.mkdtempSync(path.join(os.tmpdir(), "kerasbert-chromium-"));
const blocked = [];
let context;
try {
  // A fresh profile, and no background traffic: Chromium reaches no other host on its own.
  context = await chromium.launchPersistentContext(profile, {
    executablePath: values.chromium,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  await context.route("**/*", (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === "127.0.0.1") return route.continue();
    blocked.push(url.href);
    return route.abort();
  });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (error) => errors.push(error.message));
  page.on("console", (message) => message.type() === "error" && errors.push(message.text()));
  page.on("requestfailed", (request) => errors.push(`${request.url()}: ${request.failure()?.errorText}`));
  await page.goto(`${origin}/`);
  await page.waitForFunction(() => window.kerasbert, null, { timeout: 120_000 }).catch(() => {
    throw new Error(`the page did not load: ${errors.join("; ") || "no error reported"}`);
  });
  const pair = await page.evaluate(() => window.kerasbert.info.pair);
  const given = items.map((item) => (pair ? { text: item.text, text_pair: item.text_pair } : item.text));
  const answers = await page.evaluate(
    ([texts, chosen]) => window.kerasbert.classify(texts, chosen),
    [given, variant],
  );
  for (const answer of answers) console.log(JSON.stringify(answer));
} finally {
  await context?.close();
  server.kill();
  fs.rmSync(profile, { recursive: true, force: true });
}
if (blocked.length) {
  console.error(`The page asked for other hosts (refused): ${blocked.join(", ")}`);
  process.exit(1);
}
