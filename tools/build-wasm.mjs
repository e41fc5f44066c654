// Compiles the AssemblyScript modules: the core (wasm/index.ts) to
// build/hive86.wasm and the migration page codec (wasm/codec/index.ts) to
// build/codec.wasm. Each target skips its compile when its sources, options
// and compiler are unchanged: a hash of all of them is kept next to the
// output.
//
//   node tools/build-wasm.mjs            release build, cached
//   node tools/build-wasm.mjs --debug    also writes build/<target>.wat
//   node tools/build-wasm.mjs --force    rebuild even if up to date
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import asc from "assemblyscript/asc";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const sourceDir = join(root, "wasm");
const codecDir = join(sourceDir, "codec");
const outDir = join(root, "build");

const debug = process.argv.includes("--debug");
const force = process.argv.includes("--force");

const targets = [
  {
    name: "hive86",
    entry: join(sourceDir, "index.ts"),
    // The core is wasm/ without wasm/codec/ (checked below that it does not
    // import it), so editing the codec does not rebuild the core.
    sources: () => listSources(sourceDir, [codecDir]),
    // memoryBase keeps asc's static data above the core's fixed regions
    // (0x50000 = 327680); see wasm/layout.ts.
    options: [
      "-O3",
      "--converge",
      "--noAssert",
      "--runtime",
      "stub",
      "--memoryBase",
      "327680",
      "--initialMemory",
      "32",
    ],
  },
  {
    name: "codec",
    entry: join(codecDir, "index.ts"),
    sources: () => listSources(codecDir),
    // SIMD for the zero-page scan and the decoder's 16-byte copies; memory
    // grows on demand (workspace()), so no initial size is set.
    options: ["-O3", "--converge", "--noAssert", "--runtime", "stub", "--enable", "simd"],
  },
];

function listSources(dir, skip = []) {
  const files = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!skip.includes(path)) files.push(...listSources(path, skip));
    } else files.push(path);
  }
  return files.sort();
}

function computeStamp(args, sources) {
  const hash = createHash("sha256");
  hash.update(JSON.stringify(args));
  hash.update(asc.version ?? "");
  for (const file of sources) {
    hash.update(relative(root, file));
    hash.update(readFileSync(file));
  }
  return hash.digest("hex");
}

// The core's stamp leaves wasm/codec/ out: an import from it would be missed.
function checkCoreIndependent(sources) {
  for (const file of sources) {
    if (!file.endsWith(".ts")) continue;
    if (/\bfrom\s+["']\.\/codec(\/|["'])/.test(readFileSync(file, "utf8"))) {
      console.error(`build-wasm: ${relative(root, file)} imports wasm/codec/; the core must not`);
      process.exit(1);
    }
  }
}

async function build({ name, entry, sources, options }) {
  const wasmOut = join(outDir, `${name}.wasm`);
  const watOut = join(outDir, `${name}.wat`);
  const stampFile = join(outDir, `${name}.stamp`);
  const args = [entry, "-o", wasmOut, ...options];
  if (debug) args.push("-t", watOut);

  if (!existsSync(entry)) {
    console.error(`build-wasm: ${relative(root, entry)} does not exist`);
    process.exit(1);
  }

  const files = sources();
  if (name === "hive86") checkCoreIndependent(files);
  const stamp = computeStamp(args, files);
  const upToDate =
    !force &&
    existsSync(wasmOut) &&
    (!debug || existsSync(watOut)) &&
    existsSync(stampFile) &&
    readFileSync(stampFile, "utf8") === stamp;

  if (upToDate) {
    console.log(`build-wasm: build/${name}.wasm is up to date`);
    return;
  }
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
    `build-wasm: wrote build/${name}.wasm${debug ? ` and ${name}.wat` : ""} in ${seconds}s`,
  );
}

for (const target of targets) await build(target);
