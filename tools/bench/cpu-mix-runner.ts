// Runs the cpu-mix guest program (tests/bench/programs/cpu-mix.asm) on the
// core once and times it. Shared by the Node side of `npm run bench`, the
// browser worker and the vitest check, so all three drive the core the same
// way.
import { Core } from "../../src/core/core.ts";
import type { WasmSource } from "../../src/core/wasm-source.ts";

export const DEBUGCON_PORT = 0xe9;
export const DEBUG_EXIT_PORT = 0xf4;
/** The value the program writes to the isa-debug-exit port. */
export const EXPECTED_EXIT_VALUE = 0x10;
/** Checksum printed by the program; found with qemu-system-i386 7.2 (TCG), see tools/bench/README.md. */
export const EXPECTED_CHECKSUM = "7d0d7ecc";

export const RAM_BYTES = 32 * 1024 * 1024;
/** Instructions per run() call; also the harvest interval with tracking on. */
export const SLICE = 1_000_000;

export interface RunOptions {
  /** The core's wasm (bytes or URL); defaults to build/hive86.wasm. */
  wasm?: WasmSource;
  rom: Uint8Array;
  dirtyTracking: boolean;
  /** Stop with an error after this many instructions. */
  maxInstructions?: number;
}

export interface RunResult {
  /** What the guest wrote to port 0xE9, newline trimmed. */
  output: string;
  /** Value written to port 0xF4, or null when the guest never got there. */
  exitValue: number | null;
  instructions: number;
  /** Wall time of the run loop only (no wasm compile, no RAM setup). */
  seconds: number;
  mips: number;
  harvests: number;
  dirtyPages: number;
}

export async function runCpuMix(options: RunOptions): Promise<RunResult> {
  const maxInstructions = options.maxInstructions ?? 2_000_000_000;
  let output = "";
  let exitValue: number | null = null;
  const core: Core = await Core.create({
    ramBytes: RAM_BYTES,
    wasm: options.wasm,
    host: {
      ioOut(port, _size, value) {
        if (port === DEBUGCON_PORT) output += String.fromCharCode(value & 0xff);
        else if (port === DEBUG_EXIT_PORT) {
          exitValue = value;
          core.requestStop();
        }
      },
    },
  });
  core.loadRom(options.rom);
  core.setDirtyTracking(options.dirtyTracking);
  if (options.dirtyTracking) core.harvestDirty(); // start from an empty bitmap

  let harvests = 0;
  let dirtyPages = 0;
  const startCount = core.instructionCount();
  const started = performance.now();
  for (;;) {
    const reason = core.run(SLICE);
    if (options.dirtyTracking) {
      // What the precopy loop does between rounds: take the set, clear it,
      // drop the TLB's write permissions.
      dirtyPages += core.harvestDirty().length;
      harvests++;
    }
    if (exitValue !== null) break;
    if (reason !== "budget") {
      throw new Error(
        `cpu-mix: the core stopped (${reason}) at EIP ${hex(core.getReg("eip"))} after ` +
          `${core.instructionCount() - startCount} instructions without reaching the exit port; ` +
          `output so far: ${JSON.stringify(output)}`,
      );
    }
    if (core.instructionCount() - startCount > maxInstructions) {
      throw new Error(
        `cpu-mix: no exit after ${maxInstructions} instructions (EIP ${hex(core.getReg("eip"))}, ` +
          `CS base ${hex(core.getSegment("cs").base)}); output so far: ${JSON.stringify(output)}`,
      );
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const instructions = core.instructionCount() - startCount;
  return {
    output: output.trim(),
    exitValue,
    instructions,
    seconds,
    mips: instructions / seconds / 1e6,
    harvests,
    dirtyPages,
  };
}

/** Throws unless the run printed the expected checksum and exited with 0x10. */
export function verifyRun(result: RunResult, label: string): void {
  if (result.output !== EXPECTED_CHECKSUM || result.exitValue !== EXPECTED_EXIT_VALUE) {
    throw new Error(
      `cpu-mix (${label}): BROKEN CORE: printed ${JSON.stringify(result.output)} and exited with ` +
        `${result.exitValue === null ? "nothing" : hex(result.exitValue)}; expected ` +
        `"${EXPECTED_CHECKSUM}" and ${hex(EXPECTED_EXIT_VALUE)}`,
    );
  }
}

function hex(n: number): string {
  return "0x" + (n >>> 0).toString(16);
}

export interface BenchOptions {
  wasm?: WasmSource;
  rom: Uint8Array;
  /** Timed runs per mode. */
  runs: number;
  /** Untimed runs per mode first (JIT tier-up). */
  warmup: number;
  onProgress?: (message: string) => void;
}

export interface ModeSamples {
  dirtyTracking: boolean;
  mips: number[];
  seconds: number[];
  harvests: number;
  dirtyPagesPerHarvest: number;
}

export interface BenchResult {
  checksum: string;
  instructions: number;
  off: ModeSamples;
  on: ModeSamples;
}

/**
 * Warm-up, then `runs` timed runs per mode, off and on interleaved so drift
 * in the machine's load hits both alike. Every run's checksum is verified.
 */
export async function benchCpuMix(options: BenchOptions): Promise<BenchResult> {
  const modes = { off: emptySamples(false), on: emptySamples(true) };
  let instructions = -1;
  const total = options.warmup + options.runs;
  for (let i = 0; i < total; i++) {
    const timed = i >= options.warmup;
    // Alternate which mode goes first so neither gains from running second
    // (warmer caches, later JIT tier); paired ratios then cancel drift.
    const order = i % 2 === 0 ? [modes.off, modes.on] : [modes.on, modes.off];
    for (const samples of order) {
      const label = `${samples.dirtyTracking ? "tracking on" : "tracking off"}, run ${i + 1}/${total}`;
      const result = await runCpuMix({
        wasm: options.wasm,
        rom: options.rom,
        dirtyTracking: samples.dirtyTracking,
      });
      verifyRun(result, label);
      if (instructions < 0) instructions = result.instructions;
      else if (result.instructions !== instructions) {
        throw new Error(
          `cpu-mix (${label}): retired ${result.instructions} instructions, an earlier run ` +
            `retired ${instructions}: the core is not deterministic`,
        );
      }
      if (timed) {
        samples.mips.push(result.mips);
        samples.seconds.push(result.seconds);
        samples.harvests = result.harvests;
        samples.dirtyPagesPerHarvest = result.harvests ? result.dirtyPages / result.harvests : 0;
      }
      options.onProgress?.(`${label}${timed ? "" : " (warm-up)"}: ${result.mips.toFixed(1)} MIPS`);
    }
  }
  return { checksum: EXPECTED_CHECKSUM, instructions, off: modes.off, on: modes.on };
}

function emptySamples(dirtyTracking: boolean): ModeSamples {
  return { dirtyTracking, mips: [], seconds: [], harvests: 0, dirtyPagesPerHarvest: 0 };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
