// The browser side of the bench: bundles the pages, serves them (and the
// files they fetch) with the cross-origin isolation headers, and runs a body
// of work in Debian's Chromium.
import { createServer } from "node:http";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CHROMIUM, CHROMIUM_ARGS } from "../chromium.mjs";

async function bundlePages({ root, webDir, withV86 }) {
  const esbuild = await import("esbuild");
  const common = {
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    logLevel: "warning",
  };
  await esbuild.build({
    ...common,
    entryPoints: [join(root, "tools", "bench", "browser-worker.ts")],
    outfile: join(webDir, "worker.js"),
  });
  if (withV86) {
    await esbuild.build({
      ...common,
      entryPoints: [join(root, "tools", "bench", "v86-page.ts")],
      outfile: join(webDir, "v86-page.js"),
      // libv86 reaches for these only when it runs in Node.
      external: ["fs", "node:fs/promises", "crypto", "node:crypto", "perf_hooks"],
    });
    writeFileSync(
      join(webDir, "v86.html"),
      `<!doctype html>
<meta charset="utf-8">
<title>hive86 bench: v86</title>
<script type="module" src="/v86-page.js"></script>
`,
    );
  }
  writeFileSync(
    join(webDir, "index.html"),
    `<!doctype html>
<meta charset="utf-8">
<title>hive86 bench</title>
<script type="module">
  // Runs a task in a fresh worker and hands its result to the driver.
  const inWorker = (message) =>
    new Promise((resolve, reject) => {
      const worker = new Worker("/worker.js", { type: "module" });
      worker.onerror = (e) => reject(new Error("worker failed: " + (e.message || "load error")));
      worker.onmessage = ({ data }) => {
        if (data.type === "progress") console.log("bench: " + data.message);
        else if (data.type === "done") { worker.terminate(); resolve(data.result); }
        else { worker.terminate(); reject(new Error(data.message)); }
      };
      worker.postMessage(message);
    });
  window.benchCpu = (runs, warmup) => inWorker({ task: "cpu", runs, warmup });
  window.bootHive86 = (request) => inWorker({ task: "boot", ...request });
</script>
`,
  );
}

/** Serves `files` (URL path -> { path, type }); onRequest sees every path asked for. */
function serve(files, onRequest) {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    onRequest(path);
    const file = files.get(path);
    const headers = {
      "Cross-Origin-Opener-Policy": "same-origin",
      "Cross-Origin-Embedder-Policy": "require-corp",
      "Cache-Control": "no-store",
    };
    if (req.url === "/favicon.ico") {
      res.writeHead(204, headers).end();
      return;
    }
    if (!file || !existsSync(file.path)) {
      res.writeHead(404, headers).end("not found");
      return;
    }
    res.writeHead(200, { ...headers, "Content-Type": file.type }).end(readFileSync(file.path));
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

/**
 * Bundles the pages, serves them with `files`, and runs body(browser, page,
 * baseUrl) in a headless Chromium; its console lines starting "bench: " go to log.
 */
export async function inChromium({ root, webDir, withV86, files, log, onRequest }, body) {
  await bundlePages({ root, webDir, withV86 });
  const server = await serve(files, onRequest ?? (() => {}));
  const { port } = server.address();
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage();
    page.on("console", (msg) => {
      const text = msg.text();
      if (text.startsWith("bench: ")) log(`  chromium: ${text.slice(7)}`);
      else if (msg.type() === "error") log(`  chromium console: ${text}`);
    });
    page.on("pageerror", (error) => log(`  chromium page error: ${error.message}`));
    await body(browser, page, `http://127.0.0.1:${port}`);
  } finally {
    await browser.close();
    server.close();
  }
}
