// `npm run bench`: the benchmarks, in Node and in headless Chromium.
//  cpu:  the core's speed in MIPS on the cpu-mix guest program
//        (tests/bench/programs/cpu-mix.asm), dirty tracking off and on;
//  boot: boot-to-prompt time of the project's Linux guest (build/guest), and
//        in the same Chromium the same kernel and initramfs on v86;
//  balloon: inflating and deflating 64 MiB in the guest (Node);
//  migration: the guest moved live between two tabs (migration-bench.mjs);
//  heatmap: what the page's memory heatmap costs the guest (heatmap-bench.mjs).
// Prints the tables and writes build/bench/results.json.
//
//   node tools/bench/run.mjs [--only cpu|boot|balloon|migration|heatmap] [--runs N] [--warmup N]
//                            [--boot-runs N] [--balloon-rounds N] [--migration-runs N]
//                            [--boot-timeout S] [--no-browser] [--no-node] [--no-v86] [--realmode]
//
// Expects build/hive86.wasm (the npm script builds it first). A wrong checksum
// in any cpu run is a broken core, and a boot without a prompt a broken
// machine: the bench fails.
import { createHash } from "node:crypto";
import { execFileSync, spawnSync } from "node:child_process";
import { inChromium } from "./browser-harness.mjs";
import { benchHeatmap, reportHeatmap } from "./heatmap-bench.mjs";
import { benchMigration, reportMigration } from "./migration-bench.mjs";
import { cpus } from "node:os";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { tsImport } from "tsx/esm/api";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const outDir = join(root, "build", "bench");
const webDir = join(outDir, "web");
const resultsPath = join(outDir, "results.json");
const source = join(root, "tests", "bench", "programs", "cpu-mix.asm");
const romPath = join(outDir, "cpu-mix.rom");
const wasmPath = join(root, "build", "hive86.wasm");
const guestDir = join(root, "build", "guest");
const kernelPath = join(guestDir, "bzImage");
const initrdPath = join(guestDir, "initramfs.cpio.gz");
const v86Dir = join(root, "node_modules", "v86", "build");
const seabiosDir = "/usr/share/seabios";

const { values: opts } = parseArgs({
  options: {
    only: { type: "string" },
    runs: { type: "string", default: "5" },
    warmup: { type: "string", default: "1" },
    "boot-runs": { type: "string", default: "3" },
    "boot-timeout": { type: "string", default: "180" },
    "balloon-rounds": { type: "string", default: "5" },
    "migration-runs": { type: "string", default: "3" },
    "heatmap-pairs": { type: "string", default: "3" },
    // Development aid: some migration workloads only, e.g. --migration-only fast
    "migration-only": { type: "string" },
    "no-browser": { type: "boolean", default: false },
    "no-node": { type: "boolean", default: false },
    "no-v86": { type: "boolean", default: false },
    // Development aid: the real-mode variant of the program (same checksum,
    // no protected mode or paging) for cores that lack them.
    realmode: { type: "boolean", default: false },
  },
});
if (
  opts.only !== undefined &&
  !["cpu", "boot", "balloon", "migration", "heatmap"].includes(opts.only)
) {
  fail(`--only takes cpu, boot, balloon, migration or heatmap, got ${opts.only}`);
}
const doCpu = opts.only === undefined || opts.only === "cpu";
const doBoot = opts.only === undefined || opts.only === "boot";
// Node only: the same machine code runs in the worker, the device work is what is timed.
const doBalloon = (opts.only === undefined || opts.only === "balloon") && !opts["no-node"];
const balloonRounds = positiveInt(opts["balloon-rounds"], "--balloon-rounds");
const doMigration = (opts.only === undefined || opts.only === "migration") && !opts["no-browser"];
const migrationRuns = positiveInt(opts["migration-runs"], "--migration-runs");
const doHeatmap = (opts.only === undefined || opts.only === "heatmap") && !opts["no-browser"];
const heatmapPairs = positiveInt(opts["heatmap-pairs"], "--heatmap-pairs");
const runs = positiveInt(opts.runs, "--runs");
const warmup = Math.max(0, Number.parseInt(opts.warmup, 10) || 0);
const bootRuns = positiveInt(opts["boot-runs"], "--boot-runs");
const bootTimeoutMs = positiveInt(opts["boot-timeout"], "--boot-timeout") * 1000;
const withV86 = doBoot && !opts["no-browser"] && !opts["no-v86"];

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

const tools = [
  ...(doCpu ? ["nasm"] : []),
  ...(opts["no-browser"] ? [] : ["chromium"]),
  ...(withV86 ? ["seabios"] : []),
];
// (With no arguments ensure-tools.sh checks its default set.)
if (tools.length > 0) {
  const ensure = spawnSync("sh", [join(root, "tools/setup/ensure-tools.sh"), ...tools], {
    stdio: "inherit",
  });
  if (ensure.status !== 0) fail("required tools are missing (see above)");
}
if (!existsSync(wasmPath)) fail(`${relative(root, wasmPath)} is missing: run "npm run build:wasm"`);

mkdirSync(webDir, { recursive: true });
const variant = opts.realmode ? "real mode (development variant)" : "protected mode + paging";
let rom = null;
if (doCpu) {
  execFileSync(
    "nasm",
    ["-f", "bin", ...(opts.realmode ? ["-DREALMODE"] : []), "-o", romPath, source],
    { stdio: "inherit" },
  );
  rom = new Uint8Array(readFileSync(romPath));
}

// The guest build is cached outside the checkout; build.sh only runs when
// build/guest is missing, so a guest others are using is left alone.
const needsGuest = doBoot || doBalloon || doMigration || doHeatmap;
if (needsGuest && !(existsSync(kernelPath) && existsSync(initrdPath))) {
  log("build/guest is missing: running tools/guest/build.sh");
  const built = spawnSync("bash", [join(root, "tools", "guest", "build.sh")], { stdio: "inherit" });
  if (built.status !== 0) fail("tools/guest/build.sh failed (see above)");
}

const firmware = withV86 ? v86Firmware() : null;
const labels = {
  node: "hive86, Node",
  chromium: "hive86, Chromium (Web Worker)",
  v86: `v86 ${firmware?.v86Version}, Chromium (page)`,
  v86NoJit: `v86 ${firmware?.v86Version}, JIT off, Chromium (page)`,
};
// v86 loads its fallback build only when v86.wasm fails to instantiate.
let fellBack = false;

const runner = await tsImport("./cpu-mix-runner.ts", import.meta.url);
const bootRunner = await tsImport("./boot-runner.ts", import.meta.url);

// ---- Node ----

const cpuResults = [];
// v86NoJit: v86 with its documented disable_jit option (its interpreter only).
const bootSamples = { node: [], chromium: [], v86: [], v86NoJit: [] };

if (!opts["no-node"] && doCpu) {
  log(`Node ${process.version}: ${warmup} warm-up + ${runs} timed runs per mode`);
  try {
    const result = await runner.benchCpuMix({
      wasm: new Uint8Array(readFileSync(wasmPath)),
      rom,
      runs,
      warmup,
      onProgress: (message) => log(`  node: ${message}`),
    });
    cpuResults.push({ runtime: "node", version: process.version, ...result });
  } catch (error) {
    fail(`in Node: ${errorText(error)}`);
  }
}

if (!opts["no-node"] && doBoot) {
  log(`Node ${process.version}: ${bootRuns} boots of the Linux guest to its prompt`);
  const wasm = new Uint8Array(readFileSync(wasmPath));
  const kernel = new Uint8Array(readFileSync(kernelPath));
  const initrd = new Uint8Array(readFileSync(initrdPath));
  for (let i = 0; i < bootRuns; i++) {
    try {
      const result = await bootRunner.bootToPrompt({
        wasm,
        kernel,
        initrd,
        timeoutMs: bootTimeoutMs,
      });
      bootSamples.node.push(result);
      log(`  node: boot ${i + 1}/${bootRuns}: ${describeBoot(result)}`);
    } catch (error) {
      fail(`booting in Node: ${errorText(error)}`);
    }
  }
}

let balloonResult = null;
if (doBalloon) {
  log(`Node ${process.version}: ${balloonRounds} rounds of inflating and deflating 64 MiB`);
  const balloonRunner = await tsImport("./balloon-runner.ts", import.meta.url);
  try {
    balloonResult = await balloonRunner.benchBalloon({
      wasm: new Uint8Array(readFileSync(wasmPath)),
      kernel: new Uint8Array(readFileSync(kernelPath)),
      initrd: new Uint8Array(readFileSync(initrdPath)),
      rounds: balloonRounds,
      timeoutMs: bootTimeoutMs,
    });
  } catch (error) {
    fail(`balloon in Node: ${errorText(error)}`);
  }
}

// ---- Chromium ----

let chromiumVersion = null;
if (!opts["no-browser"] && (doCpu || doBoot)) {
  try {
    const harness = {
      root,
      webDir,
      withV86,
      files: servedFiles(),
      log,
      onRequest: (path) => {
        if (path === "/v86/v86-fallback.wasm") fellBack = true;
      },
    };
    await inChromium(harness, async (browser, page, base) => {
      chromiumVersion = browser.version();
      if (doCpu) {
        log(
          `Chromium ${chromiumVersion}: ${warmup} warm-up + ${runs} timed runs per mode (in a Web Worker)`,
        );
        await page.goto(`${base}/`);
        const isolated = await page.evaluate(() => globalThis.crossOriginIsolated);
        if (!isolated) log("  warning: the page is not cross-origin isolated");
        const result = await page.evaluate(([r, w]) => globalThis.benchCpu(r, w), [runs, warmup]);
        cpuResults.push({ runtime: "chromium", version: chromiumVersion, ...result });
      }
      if (doBoot) await bootInChromium(page, base);
    });
  } catch (error) {
    fail(`in Chromium: ${errorText(error)}`);
  }
}

// hive86 (Web Worker), v86 and v86 without its JIT (page) take turns, in a
// rotating order, on a fresh document each time: all see about the same
// machine load.
async function bootInChromium(page, base) {
  const who = withV86
    ? "hive86 (Web Worker), v86 and v86 with JIT off (page) in turn"
    : "hive86 (Web Worker)";
  log(`Chromium ${chromiumVersion}: ${bootRuns} boots each, ${who}`);
  const hive86Request = {
    cmdline: bootRunner.BOOT_CMDLINE,
    ramBytes: bootRunner.BOOT_RAM_BYTES,
    timeoutMs: bootTimeoutMs,
  };
  const v86Request = {
    wasm: "/v86/v86.wasm",
    bios: "/seabios/bios.bin",
    vgaBios: firmware?.vgaBios ? "/seabios/vgabios.bin" : null,
    kernel: "/guest/bzImage",
    initrd: "/guest/initramfs.cpio.gz",
    cmdline: bootRunner.BOOT_CMDLINE,
    ramBytes: bootRunner.BOOT_RAM_BYTES,
    prompt: bootRunner.SHELL_PROMPT,
    milestones: bootRunner.BOOT_MILESTONES,
    timeoutMs: bootTimeoutMs,
  };
  const bootHive86 = async () => {
    await page.goto(`${base}/`);
    return page.evaluate((request) => globalThis.bootHive86(request), hive86Request);
  };
  const bootV86 = (disableJit) => async () => {
    await page.goto(`${base}/v86.html`);
    return page.evaluate((request) => globalThis.bootV86(request), { ...v86Request, disableJit });
  };
  const all = [
    ["chromium", bootHive86],
    ...(withV86
      ? [
          ["v86", bootV86(false)],
          ["v86NoJit", bootV86(true)],
        ]
      : []),
  ];
  for (let i = 0; i < bootRuns; i++) {
    const turns = [...all.slice(i % all.length), ...all.slice(0, i % all.length)];
    for (const [name, boot] of turns) {
      let result;
      try {
        result = await boot();
      } catch (error) {
        throw new Error(`${name} boot ${i + 1}: ${errorText(error)}`);
      }
      if (name !== "chromium" && fellBack) log("  warning: v86 fell back to v86-fallback.wasm");
      if (name !== "chromium" && result.visibility !== "visible") {
        log(`  warning: the v86 page was ${result.visibility} (timers may be throttled)`);
      }
      bootSamples[name].push(result);
      log(`  chromium: ${labels[name]}: boot ${i + 1}/${bootRuns}: ${describeBoot(result)}`);
    }
  }
}

let migrationResult = null;
if (doMigration) {
  log(`Chromium: ${migrationRuns} live migrations per workload, tab to tab`);
  try {
    migrationResult = await benchMigration({
      root,
      runs: migrationRuns,
      log,
      only: opts["migration-only"]?.split(",") ?? null,
    });
    chromiumVersion ??= migrationResult.browserVersion;
  } catch (error) {
    fail(`migration in Chromium: ${errorText(error)}`);
  }
}

let heatmapResult = null;
if (doHeatmap) {
  log(`Chromium: the guest's speed with the memory heatmap on and off, ${heatmapPairs} pairs`);
  try {
    heatmapResult = await benchHeatmap({ root, pairs: heatmapPairs, log });
  } catch (error) {
    fail(`heatmap in Chromium: ${errorText(error)}`);
  }
}

// ---- report ----

const machine = {
  cpu: cpuModel(),
  cores: cpus().length,
  node: process.version,
  chromium: chromiumVersion,
};

let cpuJson = null;
if (cpuResults.length > 0) cpuJson = reportCpu();
let bootJson = null;
if (doBoot) bootJson = reportBoot();
let balloonJson = null;
if (balloonResult) balloonJson = reportBalloon(balloonResult);
let migrationJson = null;
if (migrationResult) migrationJson = reportMigration(migrationResult);
let heatmapJson = null;
if (heatmapResult) heatmapJson = reportHeatmap(heatmapResult);
console.log(
  `machine: ${machine.cpu} (${machine.cores} cores); node ${machine.node}; chromium ${machine.chromium ?? "not run"}`,
);

// The file keeps the part that did not run (--only) from the previous run.
let previous = {};
try {
  previous = JSON.parse(readFileSync(resultsPath, "utf8"));
} catch {
  // first run, or unreadable: start afresh
}
const json = {
  ...(cpuJson ? {} : previous),
  ...(cpuJson ?? {}),
  ...(cpuJson ? { machine } : {}),
  boot: bootJson ?? previous.boot ?? null,
  balloon: balloonJson ?? previous.balloon ?? null,
  migration: migrationJson ?? previous.migration ?? null,
  heatmap: heatmapJson ?? previous.heatmap ?? null,
};
writeFileSync(resultsPath, JSON.stringify(json, null, 2) + "\n");
log(`wrote ${relative(root, resultsPath)}`);

function reportCpu() {
  const rows = cpuResults.flatMap((r) => {
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

  const instructions = cpuResults[0]?.instructions ?? 0;
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
  for (const r of cpuResults) {
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
    `program cpu-mix, ${variant}: checksum ${cpuResults[0]?.checksum} (verified in every run), ` +
      `${fmtCount(instructions)} instructions per run (REP iterations count one each)`,
  );

  return {
    date: new Date().toISOString(),
    program: relative(root, source),
    variant,
    checksum: cpuResults[0]?.checksum ?? null,
    instructions,
    runsPerMode: runs,
    warmupRunsPerMode: warmup,
    harvestEvery: runner.SLICE,
    results: rows,
    trackingOnOffPairedRatio: Object.fromEntries(cpuResults.map((r) => [r.runtime, r.pairedRatio])),
  };
}

function reportBalloon(result) {
  const row = (what, samples) => {
    const median = runner.median(samples);
    const min = Math.min(...samples);
    return { what, medianMs: median, minMs: min, mibPerSecond: 64 / (median / 1000), samples };
  };
  const rows = [row("inflate 64 MiB", result.inflateMs), row("deflate 64 MiB", result.deflateMs)];
  console.log("");
  console.log(
    `virtio-balloon in the Linux guest (Node, ${result.pages} pages, ${balloonRounds} rounds)`,
  );
  console.log("| step           | median (ms) | min (ms) | MiB/s (median) |");
  console.log("| -------------- | ----------: | -------: | -------------: |");
  for (const r of rows) {
    console.log(
      `| ${r.what.padEnd(14)} | ${r.medianMs.toFixed(0).padStart(11)} | ${r.minMs.toFixed(0).padStart(8)} | ${r.mibPerSecond.toFixed(0).padStart(14)} |`,
    );
  }
  return {
    date: new Date().toISOString(),
    pages: result.pages,
    rounds: balloonRounds,
    results: rows,
  };
}

function reportBoot() {
  const v86Median = bootSamples.v86.length ? stat(bootSamples.v86, "seconds").median : null;
  const rows = Object.entries(bootSamples)
    .filter(([, samples]) => samples.length > 0)
    .map(([runtime, samples]) => {
      const seconds = stat(samples, "seconds");
      const row = {
        runtime,
        label: labels[runtime],
        seconds: seconds.median,
        minSeconds: seconds.min,
        firstOutputSeconds: stat(samples, "firstOutputSeconds").median,
        instructions: stat(samples, "instructions").median,
        samples,
      };
      row.mips = runner.median(samples.map((s) => s.instructions / s.seconds / 1e6));
      if (!runtime.startsWith("v86")) {
        row.busyMips = runner.median(samples.map((s) => s.instructions / s.busySeconds / 1e6));
        row.busyFraction = runner.median(samples.map((s) => s.busySeconds / s.seconds));
      }
      if (v86Median !== null) row.vsV86 = seconds.median / v86Median;
      row.phases = phaseMedians(samples);
      return row;
    });

  console.log("");
  console.log(
    `| runtime | boot to prompt, median of ${bootRuns} (s) | min (s) | first output (s) | ` +
      `instructions | MIPS | time / v86 (JIT on) |`,
  );
  console.log("|---|---:|---:|---:|---:|---:|---:|");
  for (const row of rows) {
    const v86 = row.runtime.startsWith("v86");
    const insns = `${(row.instructions / 1e6).toFixed(1)} M${v86 ? " (v86's count)" : ""}`;
    console.log(
      `| ${row.label} | ${row.seconds.toFixed(2)} | ${row.minSeconds.toFixed(2)} | ` +
        `${row.firstOutputSeconds.toFixed(2)} | ${insns} | ${row.mips.toFixed(1)} | ` +
        `${row.vsV86?.toFixed(2) ?? "-"} |`,
    );
  }
  console.log("");

  const phaseNames = Object.keys(rows[0]?.phases ?? {});
  console.log(`| runtime | ${phaseNames.join(" | ")} |`);
  console.log(`|---|${phaseNames.map(() => "---:").join("|")}|`);
  for (const row of rows) {
    const cells = phaseNames.map((name) => row.phases[name]?.toFixed(2) ?? "?");
    console.log(`| ${row.label} | ${cells.join(" | ")} |`);
  }
  console.log("(seconds per phase, median; each phase ends when its console line shows)");
  console.log("");

  // Each hive86 Chromium boot ran next to a boot of each v86 variant: the
  // ratios of those pairs cancel drift in the machine's load.
  const paired = {};
  for (const other of ["v86", "v86NoJit"]) {
    if (!bootSamples[other].length || !bootSamples.chromium.length) continue;
    const pairedRatio = (time) =>
      runner.median(bootSamples.chromium.map((s, i) => time(s) / time(bootSamples[other][i])));
    // From the first console byte on, both run the same kernel code: no
    // firmware (v86 runs SeaBIOS first) and no kernel decompression.
    paired[other] = {
      total: pairedRatio((s) => s.seconds),
      afterFirstOutput: pairedRatio((s) => s.seconds - s.firstOutputSeconds),
    };
    const medians =
      stat(bootSamples.chromium, "seconds").median / stat(bootSamples[other], "seconds").median;
    console.log(
      `hive86 Chromium / ${labels[other]}: boot time ${medians.toFixed(2)} (medians), ` +
        `${paired[other].total.toFixed(2)} (median of paired boots), ` +
        `${paired[other].afterFirstOutput.toFixed(2)} from the first console byte on`,
    );
  }
  if (Object.keys(paired).length) console.log("(time ratios: above 1 hive86 is slower)");
  for (const row of rows) {
    const list = row.samples.map((s) => s.seconds.toFixed(2)).join(", ");
    const extra =
      row.busyFraction === undefined
        ? ""
        : `; guest ran ${(row.busyFraction * 100).toFixed(0)}% of the time ` +
          `(${row.busyMips.toFixed(1)} MIPS while running), the rest halted or yielding`;
    console.log(`${row.label}: boots [${list}] s${extra}`);
  }
  const digest = sha256(kernelPath).slice(0, 12);
  console.log(
    `guest: build/guest bzImage ${digest}… + initramfs ${sha256(initrdPath).slice(0, 12)}…, ` +
      `cmdline "${bootRunner.BOOT_CMDLINE}", ${bootRunner.BOOT_RAM_BYTES >> 20} MiB, ` +
      `until "${bootRunner.SHELL_PROMPT}" on COM1` +
      (firmware ? `; v86 with ${firmware.biosFile} + ${firmware.vgaBios ?? "no VGA BIOS"}` : ""),
  );

  return {
    date: new Date().toISOString(),
    kernelSha256: sha256(kernelPath),
    initrdSha256: sha256(initrdPath),
    cmdline: bootRunner.BOOT_CMDLINE,
    ramBytes: bootRunner.BOOT_RAM_BYTES,
    prompt: bootRunner.SHELL_PROMPT,
    runs: bootRuns,
    v86: firmware,
    machine,
    results: rows,
    chromiumPaired: paired,
  };
}

// ---- helpers ----

function stat(samples, key) {
  const values = samples.map((s) => s[key]);
  return { median: runner.median(values), min: Math.min(...values) };
}

// Seconds between consecutive console milestones, median over the boots.
function phaseMedians(samples) {
  const names = [
    "start -> first output",
    ...bootRunner.BOOT_MILESTONES.map((line) => `-> "${line.replace(/\.+$/, "")}"`),
    "-> prompt",
  ];
  const phases = {};
  names.forEach((name, i) => {
    const durations = samples.map((s) => {
      const at = [
        0,
        s.firstOutputSeconds,
        ...bootRunner.BOOT_MILESTONES.map((line) => s.milestones[line]),
        s.seconds,
      ];
      return at[i + 1] - at[i];
    });
    phases[name] = durations.some((d) => !Number.isFinite(d)) ? null : runner.median(durations);
  });
  return phases;
}

function describeBoot(r) {
  const mips = r.mips === undefined ? "" : `, ${r.mips.toFixed(1)} MIPS`;
  return (
    `prompt after ${r.seconds.toFixed(2)} s (first output ${r.firstOutputSeconds.toFixed(2)} s), ` +
    `${fmtCount(r.instructions)} instructions${mips}`
  );
}

function errorText(error) {
  return error instanceof Error ? error.message : String(error);
}

function fmtCount(n) {
  return n.toLocaleString("en-US");
}

function sha256(path) {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
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

// v86 needs a PC BIOS to run the option ROM that enters the kernel; Debian's
// SeaBIOS (the QEMU build) has the fw_cfg loader v86 feeds that ROM through.
function v86Firmware() {
  const biosFile = ["bios.bin", "bios-256k.bin"].find((f) => existsSync(join(seabiosDir, f)));
  if (!biosFile) fail(`no SeaBIOS image in ${seabiosDir} (apt-get install seabios)`);
  const vgaBios = ["vgabios-stdvga.bin", "vgabios.bin"].find((f) =>
    existsSync(join(seabiosDir, f)),
  );
  if (!existsSync(join(v86Dir, "libv86.mjs"))) {
    fail(`${relative(root, v86Dir)} is missing: run "npm install" (v86 is a devDependency)`);
  }
  const v86Version = JSON.parse(
    readFileSync(join(root, "node_modules", "v86", "package.json"), "utf8"),
  ).version;
  return { v86Version, biosFile, vgaBios: vgaBios ?? null, seabiosDir };
}

/** What the bench pages fetch, by URL path. */
function servedFiles() {
  const binary = "application/octet-stream";
  const files = new Map([
    ["/", { path: join(webDir, "index.html"), type: "text/html" }],
    ["/worker.js", { path: join(webDir, "worker.js"), type: "text/javascript" }],
    ["/hive86.wasm", { path: wasmPath, type: "application/wasm" }],
    ["/cpu-mix.rom", { path: romPath, type: binary }],
    ["/guest/bzImage", { path: kernelPath, type: binary }],
    ["/guest/initramfs.cpio.gz", { path: initrdPath, type: binary }],
    ["/v86.html", { path: join(webDir, "v86.html"), type: "text/html" }],
    ["/v86-page.js", { path: join(webDir, "v86-page.js"), type: "text/javascript" }],
    ["/v86/v86.wasm", { path: join(v86Dir, "v86.wasm"), type: "application/wasm" }],
    [
      "/v86/v86-fallback.wasm",
      { path: join(v86Dir, "v86-fallback.wasm"), type: "application/wasm" },
    ],
  ]);
  if (firmware) {
    files.set("/seabios/bios.bin", { path: join(seabiosDir, firmware.biosFile), type: binary });
    if (firmware.vgaBios) {
      files.set("/seabios/vgabios.bin", { path: join(seabiosDir, firmware.vgaBios), type: binary });
    }
  }
  return files;
}
