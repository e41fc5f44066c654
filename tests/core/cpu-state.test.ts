import { describe, expect, it } from "vitest";
import { Core } from "../../src/core/core.ts";
import type { CpuState } from "../../src/core/cpu-state.ts";
import { buildRealModeRom } from "../fixtures/real-mode-rom.ts";
import { restoreComponent } from "../../src/platform/stateful.ts";

const RAM = 1024 * 1024;

// A loop whose state keeps changing: ax doubles (wrapping), bx counts,
// the carry flag comes and goes, and words are stored into RAM at ds:bx.
//   l: add ax, ax ; adc ax, 1 ; inc bx ; mov [bx], ax ; jmp l
const BUSY_LOOP = [0x01, 0xc0, 0x83, 0xd0, 0x01, 0x43, 0x89, 0x07, 0xeb, 0xf6];

async function busyCore(): Promise<Core> {
  const core = await Core.create({ ramBytes: RAM });
  core.loadRom(buildRealModeRom(BUSY_LOOP));
  core.reset();
  core.setRealModeSegment("ds", 0x2000);
  return core;
}

describe("CpuState", () => {
  it("saves and restores every field, and execution continues identically", async () => {
    const source = await busyCore();
    expect(source.run(777)).toBe("budget");
    source.setControl("cr2", 0x12345678);
    source.setSegment("fs", { selector: 0x18, base: 0x400000, limit: 0xfffff, access: 0xc093 });
    const saved = JSON.parse(JSON.stringify(source.save())) as CpuState;
    expect(saved.version).toBe(1);
    expect(saved.icount).toBe(777);
    expect(saved.eip).toBeLessThan(0x10);
    expect(saved.segments.cs.base).toBe(0xf0000);

    const target = await busyCore();
    target.memory.write(0, source.memory.read(0, RAM));
    restoreComponent(target, saved);
    expect(target.save()).toEqual(saved);

    source.run(5000);
    target.run(5000);
    expect(target.save()).toEqual(source.save());
    expect(target.memory.read(0x20000, 0x2000)).toEqual(source.memory.read(0x20000, 0x2000));
  });

  it("keeps the materialized arithmetic flags across save and restore", async () => {
    const core = await busyCore();
    core.run(3); // after "add ax, ax" and "adc": flags are still lazy in the core
    const flags = core.getFlags();
    const state = core.save();
    expect(state.eflags).toBe(flags);
    core.setFlags(0x2);
    restoreComponent(core, state);
    expect(core.getFlags()).toBe(flags);
  });

  it("carries instruction counts beyond 2^32", async () => {
    const core = await busyCore();
    const state = core.save();
    restoreComponent(core, { ...state, icount: 2 ** 40 + 5 });
    expect(core.instructionCount()).toBe(2 ** 40 + 5);
    restoreComponent(core, { ...state, icount: "18446744073709551615" });
    expect(core.save().icount).toBe("18446744073709551615");
  });

  it("rejects malformed state with a message naming the field, changing nothing", async () => {
    const core = await busyCore();
    core.run(10);
    const good = core.save();
    const bad = (patch: (s: Record<string, unknown>) => void): unknown => {
      const copy = JSON.parse(JSON.stringify(good)) as Record<string, unknown>;
      patch(copy);
      return copy;
    };
    const restore = (state: unknown) => () => restoreComponent(core, state as CpuState);

    expect(restore(bad((s) => (s.version = 2)))).toThrow(/state\.version must be 1/);
    expect(restore(bad((s) => delete s.regs))).toThrow(/state\.regs/);
    expect(restore(bad((s) => ((s.regs as Record<string, unknown>).esi = "1")))).toThrow(
      /state\.regs\.esi must be an integer/,
    );
    expect(restore(bad((s) => (s.eip = 2 ** 32)))).toThrow(/state\.eip/);
    expect(restore(bad((s) => (s.halted = 0)))).toThrow(/state\.halted must be a boolean/);
    expect(restore(bad((s) => (s.dr = [0])))).toThrow(/state\.dr/);
    expect(restore(bad((s) => (s.cpl = 4)))).toThrow(/state\.cpl/);
    expect(restore(bad((s) => (s.icount = -1)))).toThrow(/state\.icount/);
    expect(
      restore(
        bad((s) => ((s.segments as Record<string, Record<string, unknown>>).tr!.base = null)),
      ),
    ).toThrow(/state\.segments\.tr\.base/);
    expect(restore(null)).toThrow(TypeError);
    expect(core.save()).toEqual(good);
  });
});
