// The benchmark's guest program is valid and deterministic: it prints the
// checksum found with QEMU and exits through isa-debug-exit, with dirty
// tracking on (harvested every slice) as well as off. Speed is not tested
// here; that is `npm run bench`.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  EXPECTED_CHECKSUM,
  EXPECTED_EXIT_VALUE,
  runCpuMix,
} from "../../tools/bench/cpu-mix-runner.ts";
import { assemble } from "../helpers/nasm.ts";

const SOURCE = join(import.meta.dirname, "programs", "cpu-mix.asm");
const BUDGET = 500_000_000; // ~4x what the program needs

describe("cpu-mix benchmark program", () => {
  it("is a 64 KiB ROM image", () => {
    expect(assemble(SOURCE).length).toBe(0x10000);
  });

  for (const [variant, defines] of [
    ["protected mode + paging (the benchmark)", {}],
    ["real-mode development variant", { REALMODE: 1 }],
  ] as const) {
    it(
      `${variant}: prints the checksum and exits, tracking off and on`,
      { timeout: 180_000 },
      async () => {
        const rom = assemble(SOURCE, defines);
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
