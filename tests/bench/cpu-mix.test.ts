// The benchmark's guest program is valid and deterministic: it prints the
// checksum found with QEMU and exits through isa-debug-exit, with dirty
// tracking on (harvested every slice) as well as off. Speed is not tested
// here; that is `npm run bench`.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  EXPECTED_CHECKSUM,
  EXPECTED_EXIT_VALUE,
  runCpuMix,
} from "../../tools/bench/cpu-mix-runner.ts";

const SOURCE = join(import.meta.dirname, "programs", "cpu-mix.asm");
const BUDGET = 500_000_000; // ~4x what the program needs
const tmp = mkdtempSync(join(tmpdir(), "hive86-cpu-mix-"));

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function assemble(defines: string[]): Uint8Array {
  const out = join(tmp, `cpu-mix${defines.join("")}.rom`);
  try {
    execFileSync("nasm", ["-f", "bin", ...defines, "-o", out, SOURCE], { stdio: "pipe" });
  } catch (error) {
    const e = error as { code?: string; stderr?: Buffer };
    if (e.code === "ENOENT") {
      throw new Error("nasm is not installed: run `sh tools/setup/ensure-tools.sh nasm`");
    }
    throw new Error(`nasm failed: ${e.stderr?.toString() ?? String(error)}`);
  }
  return new Uint8Array(readFileSync(out));
}

describe("cpu-mix benchmark program", () => {
  it("is a 64 KiB ROM image", () => {
    expect(assemble([]).length).toBe(0x10000);
  });

  for (const [variant, defines] of [
    ["protected mode + paging (the benchmark)", []],
    ["real-mode development variant", ["-DREALMODE"]],
  ] as const) {
    it(
      `${variant}: prints the checksum and exits, tracking off and on`,
      { timeout: 180_000 },
      async () => {
        const rom = assemble([...defines]);
        const off = await runCpuMix({ rom, dirtyTracking: false, maxInstructions: BUDGET });
        expect({ output: off.output, exit: off.exitValue }).toEqual({
          output: EXPECTED_CHECKSUM,
          exit: EXPECTED_EXIT_VALUE,
        });
        const on = await runCpuMix({ rom, dirtyTracking: true, maxInstructions: BUDGET });
        expect({ output: on.output, exit: on.exitValue }).toEqual({
          output: EXPECTED_CHECKSUM,
          exit: EXPECTED_EXIT_VALUE,
        });
        expect(on.instructions).toBe(off.instructions);
        // The working set is 128 pages: tracking must see them dirtied again
        // after every harvest.
        expect(on.dirtyPages / on.harvests).toBeGreaterThan(100);
      },
    );
  }
});
