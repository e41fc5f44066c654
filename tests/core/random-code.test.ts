// The core on garbage: random bytes as code and data, random registers, in
// real mode, 16/32-bit protected mode and with paging over random page
// tables, with devices that answer at random. Whatever the guest does, the
// core must only ever report guest events (faults it delivers, halts, triple
// faults): never throw and never loop without returning. An access past the
// end of the core's linear memory would trap and show up here as a throw.
import { describe, expect, it } from "vitest";
import { Core } from "../../src/core/core.ts";
import { prng } from "../helpers/prng.ts";
import { restoreComponent } from "../../src/platform/stateful.ts";

const RAM = 2 * 1024 * 1024;
const INSTRUCTIONS_PER_RUN = 100_000;
// HIVE86_FUZZ_SEEDS=600 for a longer hunt (2,400 machines ran clean when this was written).
const SEEDS = Number(process.env.HIVE86_FUZZ_SEEDS ?? 40);

type Mode = "real" | "protected16" | "protected32" | "paging";
const MODES: Mode[] = ["real", "protected16", "protected32", "paging"];

async function randomCore(seed: number, mode: Mode): Promise<{ core: Core; rand: () => number }> {
  const rand = prng(seed * 7919 + MODES.indexOf(mode));
  const core = await Core.create({
    ramBytes: RAM,
    host: {
      ioIn: () => rand(),
      mmioRead: () => rand(),
      msrRead: (index) => (index & 1 ? BigInt(rand()) : undefined),
      msrWrite: () => (rand() & 1) === 1,
      intAck: () => rand() & 0xff,
      readTsc: () => rand(),
    },
  });
  const ram = new Uint8Array(RAM);
  for (let i = 0; i < RAM; i += 4) {
    const v = rand();
    ram[i] = v;
    ram[i + 1] = v >>> 8;
    ram[i + 2] = v >>> 16;
    ram[i + 3] = v >>> 24;
  }
  core.memory.write(0, ram);
  for (const reg of ["eax", "ebx", "ecx", "edx", "esi", "edi", "ebp", "esp"] as const) {
    core.setReg(reg, rand());
  }
  core.setReg("eip", rand() & 0xffff);
  if (mode === "real") {
    for (const seg of ["cs", "ds", "es", "ss", "fs", "gs"] as const) {
      core.setRealModeSegment(seg, rand() & 0xffff);
    }
  } else {
    // A random GDT and IDT in RAM; flat-ish segments to start from.
    const big = mode !== "protected16" ? 0x4000 : 0;
    core.writeU32(core.layout.S_GDTR_BASE, rand() % (RAM - 0x10000));
    core.writeU32(core.layout.S_GDTR_LIMIT, rand() & 0xffff);
    core.writeU32(core.layout.S_IDTR_BASE, rand() % (RAM - 0x1000));
    core.writeU32(core.layout.S_IDTR_LIMIT, rand() & 0x7ff);
    core.setSegment("cs", { selector: 8, base: 0, limit: 0xfffff, access: 0x809b | big });
    for (const seg of ["ds", "es", "ss", "fs", "gs"] as const) {
      core.setSegment(seg, { selector: 0x10, base: 0, limit: 0xfffff, access: 0x8093 | big });
    }
    let cr0 = 0x11;
    if (mode === "paging") {
      core.setControl("cr3", (rand() % RAM) & ~0xfff);
      core.setControl("cr4", rand() & 0x10); // PSE or not
      cr0 |= 0x80000000 | (rand() & 0x10000); // PG, and WP or not
    }
    core.setControl("cr0", cr0);
  }
  core.setFlags((rand() & 0x0cd5) | 2);
  if (rand() & 1) core.setIrq(true);
  return { core, rand };
}

describe("the core on random code", () => {
  for (const mode of MODES) {
    it(`never fails on its own: ${SEEDS} random machines in ${mode} mode`, async () => {
      const outcomes = new Map<string, number>();
      for (let seed = 1; seed <= SEEDS; seed++) {
        const { core, rand } = await randomCore(seed, mode);
        let retired = 0;
        for (let slice = 0; slice < 10 && retired < INSTRUCTIONS_PER_RUN; slice++) {
          const before = core.instructionCount();
          let exit: string;
          try {
            exit = core.run(INSTRUCTIONS_PER_RUN / 10);
          } catch (error) {
            throw new Error(`seed ${seed} (${mode}): the core threw: ${String(error)}`);
          }
          outcomes.set(exit, (outcomes.get(exit) ?? 0) + 1);
          retired += core.instructionCount() - before;
          // A halted or stopped guest gets an interrupt or a fresh start, as a machine would.
          if (exit === "halt" || exit === "halt-no-if") core.setNmi();
          if (rand() % 4 === 0) core.setIrq((rand() & 1) === 1);
        }
        // Saved state is always restorable: the core's state stayed well-formed.
        const state = core.save();
        const copy = await Core.create({ ramBytes: RAM });
        expect(
          () => restoreComponent(copy, JSON.parse(JSON.stringify(state))),
          `seed ${seed}`,
        ).not.toThrow();
      }
      // Random code mostly faults its way along; the runs ended for guest reasons only.
      const reasons = [...outcomes.keys()];
      expect(
        reasons.every((r) => ["budget", "halt", "halt-no-if", "triple-fault"].includes(r)),
      ).toBe(true);
    }, 120_000);
  }
});
