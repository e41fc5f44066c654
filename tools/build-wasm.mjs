// Compiles the AssemblyScript core (wasm/index.ts) to build/hive86.wasm.
// Skips the compile when the sources, options and compiler are unchanged:
// a hash of all of them is kept next to the output.
//
//   node tools/build-wasm.mjs            release build, cached
//   node tools/build-wasm.mjs --debug    also writes build/hive86.wat
//   node tools/build-wasm.mjs --force    rebuild even if up to date
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import asc from "assemblyscript/asc";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const sourceDir = join(root, "wasm");
const outDir = join(root, "build");
const wasmOut = join(outDir, "hive86.wasm");
const watOut = join(outDir, "hive86.wat");
const stampFile = join(outDir, "hive86.stamp");

const debug = process.argv.includes("--debug");
const force = process.argv.includes("--force");

// memoryBase keeps asc's static data above the core's fixed regions
// (0x50000 = 327680); see wasm/layout.ts.
const releaseOptions = [
  "-O3",
  "--converge",
  "--noAssert",
  "--runtime",
  "stub",
  "--memoryBase",
  "327680",
  "--initialMemory",
  "32",
];

function listSources(dir) {
  const files = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...listSources(path));
    else files.push(path);
  }
  return files.sort();
}

function computeStamp(args) {
  const hash = createHash("sha256");
  hash.update(JSON.stringify(args));
  hash.update(asc.version ?? "");
  for (const file of listSources(sourceDir)) {
    hash.update(relative(root, file));
    hash.update(readFileSync(file));
  }
  return hash.digest("hex");
}

const args = [join(sourceDir, "index.ts"), "-o", wasmOut, ...releaseOptions];
if (debug) args.push("-t", watOut);

if (!existsSync(join(sourceDir, "index.ts"))) {
  console.error("build-wasm: wasm/index.ts does not exist");
  process.exit(1);
}

const stamp = computeStamp(args);
const upToDate =
  !force &&
  existsSync(wasmOut) &&
  (!debug || existsSync(watOut)) &&
  existsSync(stampFile) &&
  readFileSync(stampFile, "utf8") === stamp;

if (upToDate) {
  console.log("build-wasm: build/hive86.wasm is up to date");
} else {
  mkdirSync(outDir, { recursive: true });
  const started = performance.now();
  const { error, stderr } = await asc.main(args, {
    stdout: process.stdout,
    stderr: process.stderr,
  });
  if (error) {
    console.error(`build-wasm: ${error.message}`);
    const text = stderr.toString();
    if (text && !text.includes(error.message)) console.error(text);
    process.exit(1);
  }
  writeFileSync(stampFile, stamp);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(
    `build-wasm: wrote build/hive86.wasm${debug ? " and hive86.wat" : ""} in ${seconds}s`,
  );
}
