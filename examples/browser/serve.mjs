// Serve the browser example on 127.0.0.1 with everything it loads, so the page makes no request
// to any other host: the page itself, transformers.js and onnxruntime-web's wasm files (from the
// examples/node install) and the export folder.
//
//   npm ci --ignore-scripts --prefix examples/node          # once
//   node examples/browser/serve.mjs exported/<run>          # then open http://127.0.0.1:8000/
//
// Options: --port N (default 8000), --node-modules DIR (default examples/node/node_modules).
//   /              -> /browser/ (the page, examples/browser/index.html)
//   /model/...     -> the export folder
//   /node_modules/ -> the npm packages
//   anything else  -> examples/ (the page's script, examples/node/kerasbert.mjs)
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { parseArgs } from "node:util";

const clients = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { port: { type: "string", default: "8000" }, "node-modules": { type: "string" } },
});
if (positionals.length !== 1 || !fs.existsSync(path.join(positionals[0], "kerasbert.json"))) {
  console.error("usage: node serve.mjs EXPORT_DIR [--port 8000] [--node-modules DIR]  (EXPORT_DIR holds kerasbert.json)");
  process.exit(2);
}
const roots = {
  "/model/": path.resolve(positionals[0]),
  "/node_modules/": path.resolve(values["node-modules"] ?? path.join(clients, "node", "node_modules")),
  "/": clients,
};
const types = {
  ".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript", ".json": "application/json",
  ".wasm": "application/wasm", ".onnx": "application/octet-stream", ".md": "text/markdown",
};

const server = http.createServer((request, response) => {
  let url = decodeURIComponent(new URL(request.url, "http://127.0.0.1").pathname);
  if (url === "/") {
    response.writeHead(302, { Location: "/browser/" }).end();
    return;
  }
  if (url.endsWith("/")) url += "index.html";
  const prefix = Object.keys(roots).find((key) => url.startsWith(key));
  const file = path.join(roots[prefix], url.slice(prefix.length));
  // Nothing outside the three roots, whatever the URL says.
  const inside = file.startsWith(roots[prefix] + path.sep);
  if (!inside || !fs.statSync(file, { throwIfNoEntry: false })?.isFile()) {
    response.writeHead(404).end(`not found: ${url}`);
    return;
  }
  response.writeHead(200, {
    "Content-Type": types[path.extname(file)] ?? "application/octet-stream",
    // Cross-origin isolation lets onnxruntime-web run on several threads (SharedArrayBuffer).
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cache-Control": "no-store", // a re-export at the same path is read afresh
  });
  fs.createReadStream(file).pipe(response);
});
server.listen(Number(values.port), "127.0.0.1", () => {
  console.log(`Serving ${roots["/model/"]} on http://127.0.0.1:${server.address().port}/`);
});
