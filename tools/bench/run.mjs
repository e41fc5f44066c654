// `npm run bench`: the core's speed in MIPS on the cpu-mix guest program
// (tests/bench/programs/cpu-mix.asm), in Node and in headless Chromium, with
// dirty tracking off and on. Prints a table and writes build/bench/results.json.
//
//   node tools/bench/run.mjs [--runs N] [--warmup N] [--no-browser] [--no-node] [--realmode]
//
// Expects build/hive86.wasm (the npm script builds it first). A wrong checksum
// in any run is a broken core: the bench fails.
import { CHROMIUM, CHROMIUM_ARGS } from "../chromium.mjs";
import { execFileSync, spawnSync } from "node:child_process";
import { createServer } from "node:http";
import { cpus } from "node:os";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { tsImport } from "tsx/esm/api";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const outDir = join(root, "build", "bench");
const webDir = join(outDir, "web");
const source = join(root, "tests", "bench", "programs", "cpu-mix.asm");
const romPath = join(outDir, "cpu-mix.rom");
const wasmPath = join(root, "build", "hive86.wasm");

const { values: opts } = parseArgs({
  options: {
    runs: { type: "string", default: "5" },
    warmup: { type: "string", default: "1" },
    "no-browser": { type: "boolean", default: false },
    "no-node": { type: "boolean", default: false },
    // Development aid: the real-mode variant of the program (same checksum,
    // no protected mode or paging) for cores that lack them.
    realmode: { type: "boolean", default: false },
  },
});
const runs = positiveInt(opts.runs, "--runs");
const warmup = Math.max(0, Number.parseInt(opts.warmup, 10) || 0);

function positiveInt(text, name) {
  const n = Number.parseInt(text, 10);
  if (!(n > 0)) fail(`${name} must be a positive integer, got ${text}`);
  return n;
}

function fail(message) {
  console.error(`bench: ${message}`);
  if (message.includes("real-mode exception")) {
    console.error(
      "bench: (the ROM faulted before protected mode; --realmode runs the real-mode variant)",
    );
  }
  process.exit(1);
}

function log(message) {
  console.error(`bench: ${message}`);
}

// ---- tools and inputs ----

const ensure = spawnSync(
  "sh",
  [join(root, "tools/setup/ensure-tools.sh"), "nasm", ...(opts["no-browser"] ? [] : ["chromium"])],
  {
    stdio: "inherit",
  },
);
if (ensure.status !== 0) fail("required tools are missing (see above)");
if (!existsSync(wasmPath)) fail(`${relative(root, wasmPath)} is missing: run "npm run build:wasm"`);

mkdirSync(webDir, { recursive: true });
const variant = opts.realmode ? "real mode (development variant)" : "protected mode + paging";
execFileSync(
  "nasm",
  ["-f", "bin", ...(opts.realmode ? ["-DREALMODE"] : []), "-o", romPath, source],
  {
    stdio: "inherit",
  },
);
const rom = new Uint8Array(readFileSync(romPath));

const runner = await tsImport("./cpu-mix-runner.ts", import.meta.url);

// ---- Node ----

const results = [];

if (!opts["no-node"]) {
  log(`Node ${process.version}: ${warmup} warm-up + ${runs} timed runs per mode`);
  let result;
  try {
    result = await runner.benchCpuMix({
      wasm: new Uint8Array(readFileSync(wasmPath)),
      rom,
      runs,
      warmup,
      onProgress: (message) => log(`  node: ${message}`),
    });
  } catch (error) {
    fail(`in Node: ${error instanceof Error ? error.message : String(error)}`);
  }
  results.push({ runtime: "node", version: process.version, ...result });
}

// ---- Chromium ----

if (!opts["no-browser"]) {
  let browserRun;
  try {
    browserRun = await benchInChromium();
  } catch (error) {
    fail(`in Chromium: ${error instanceof Error ? error.message : String(error)}`);
  }
  const { result, version } = browserRun;
  results.push({ runtime: "chromium", version, ...result });
}

// ---- report ----

const machine = {
  cpu: cpuModel(),
  cores: cpus().length,
  node: process.version,
  chromium: results.find((r) => r.runtime === "chromium")?.version ?? null,
};
const rows = results.flatMap((r) => {
  const off = runner.median(r.off.mips);
  const on = runner.median(r.on.mips);
  return [
    { runtime: r.runtime, tracking: "off", mips: off, vsOff: 1, samples: r.off.mips },
    {
      runtime: r.runtime,
      tracking: `on (harvest / ${fmtCount(runner.SLICE)} insns)`,
      mips: on,
      vsOff: on / off,
      samples: r.on.mips,
      dirtyPagesPerHarvest: r.on.dirtyPagesPerHarvest,
    },
  ];
});

const instructions = results[0]?.instructions ?? 0;
console.log("");
console.log(`| runtime | dirty tracking | MIPS (median of ${runs}) | vs off |`);
console.log("|---|---|---:|---:|");
for (const row of rows) {
  console.log(
    `| ${row.runtime} | ${row.tracking} | ${row.mips.toFixed(1)} | ${row.vsOff.toFixed(3)} |`,
  );
}
console.log("");
// Off and on runs alternate, so each on/off pair saw about the same machine
// load: the median of the pair ratios is steadier than a ratio of medians.
const pairedRatio = (r) => runner.median(r.on.mips.map((on, i) => on / r.off.mips[i]));
for (const r of results) {
  const off = runner.median(r.off.mips);
  const on = runner.median(r.on.mips);
  const paired = pairedRatio(r);
  r.pairedRatio = paired;
  console.log(
    `${r.runtime}: tracking on/off = ${(on / off).toFixed(3)} (medians), ${paired.toFixed(3)} ` +
      `(median of paired runs) -> overhead ${((1 / paired - 1) * 100).toFixed(1)}%; ` +
      `${r.on.harvests} harvests, ${r.on.dirtyPagesPerHarvest.toFixed(0)} dirty pages each; ` +
      `MIPS off [${r.off.mips.map((m) => m.toFixed(1)).join(", ")}] ` +
      `on [${r.on.mips.map((m) => m.toFixed(1)).join(", ")}]`,
  );
}
console.log(
  `program cpu-mix, ${variant}: checksum ${results[0]?.checksum} (verified in every run), ` +
    `${fmtCount(instructions)} instructions per run (REP iterations count one each)`,
);
console.log(
  `machine: ${machine.cpu} (${machine.cores} cores); node ${machine.node}; chromium ${machine.chromium ?? "not run"}`,
);

const json = {
  date: new Date().toISOString(),
  program: relative(root, source),
  variant,
  checksum: results[0]?.checksum ?? null,
  instructions,
  runsPerMode: runs,
  warmupRunsPerMode: warmup,
  harvestEvery: runner.SLICE,
  machine,
  results: rows,
  trackingOnOffPairedRatio: Object.fromEntries(results.map((r) => [r.runtime, r.pairedRatio])),
};
writeFileSync(join(outDir, "results.json"), JSON.stringify(json, null, 2) + "\n");
log(`wrote ${relative(root, join(outDir, "results.json"))}`);

// ---- helpers ----

function fmtCount(n) {
  return n.toLocaleString("en-US");
}

function cpuModel() {
  try {
    const line = readFileSync("/proc/cpuinfo", "utf8")
      .split("\n")
      .find((l) => l.startsWith("model name"));
    if (line) return line.split(":")[1].trim();
  } catch {
    // not Linux
  }
  return cpus()[0]?.model ?? "unknown";
}

async function bundleWorker() {
  const esbuild = await import("esbuild");
  await esbuild.build({
    entryPoints: [join(root, "tools", "bench", "browser-worker.ts")],
    outfile: join(webDir, "worker.js"),
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    logLevel: "warning",
  });
  writeFileSync(
    join(webDir, "index.html"),
    `<!doctype html>
<meta charset="utf-8">
<title>hive86 bench</title>
<script type="module">
  // Runs the worker and keeps its messages for the driver (window.bench).
  window.bench = (runs, warmup) =>
    new Promise((resolve, reject) => {
      const worker = new Worker("/worker.js", { type: "module" });
      worker.onerror = (e) => reject(new Error("worker failed: " + (e.message || "load error")));
      worker.onmessage = ({ data }) => {
        if (data.type === "progress") console.log("bench: " + data.message);
        else if (data.type === "done") { worker.terminate(); resolve(data.result); }
        else { worker.terminate(); reject(new Error(data.message)); }
      };
      worker.postMessage({ runs, warmup });
    });
</script>
`,
  );
}

function serve() {
  const files = new Map([
    ["/", { path: join(webDir, "index.html"), type: "text/html" }],
    ["/worker.js", { path: join(webDir, "worker.js"), type: "text/javascript" }],
    ["/hive86.wasm", { path: wasmPath, type: "application/wasm" }],
    ["/cpu-mix.rom", { path: romPath, type: "application/octet-stream" }],
  ]);
  const server = createServer((req, res) => {
    const file = files.get(new URL(req.url ?? "/", "http://x").pathname);
    const headers = {
      "Cross-Origin-Opener-Policy": "same-origin",
      "Cross-Origin-Embedder-Policy": "require-corp",
      "Cache-Control": "no-store",
    };
    if (req.url === "/favicon.ico") {
      res.writeHead(204, headers).end();
      return;
    }
    if (!file) {
      res.writeHead(404, headers).end("not found");
      return;
    }
    res.writeHead(200, { ...headers, "Content-Type": file.type }).end(readFileSync(file.path));
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

async function benchInChromium() {
  await bundleWorker();
  const server = await serve();
  const { port } = server.address();
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    const version = browser.version();
    log(`Chromium ${version}: ${warmup} warm-up + ${runs} timed runs per mode (in a Web Worker)`);
    const page = await browser.newPage();
    page.on("console", (msg) => {
      const text = msg.text();
      if (text.startsWith("bench: ")) log(`  chromium: ${text.slice(7)}`);
      else if (msg.type() === "error") log(`  chromium console: ${text}`);
    });
    page.on("pageerror", (error) => log(`  chromium page error: ${error.message}`));
    await page.goto(`http://127.0.0.1:${port}/`);
    const isolated = await page.evaluate(() => globalThis.crossOriginIsolated);
    if (!isolated) log("  warning: the page is not cross-origin isolated");
    const result = await page.evaluate(([r, w]) => globalThis.bench(r, w), [runs, warmup]);
    return { result, version };
  } finally {
    await browser.close();
    server.close();
  }
}
