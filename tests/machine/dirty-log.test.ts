// The machine's dirty log: readers each see every page written since they
// last collected, whoever else collects; pages the balloon holds are left out.
import { describe, expect, it } from "vitest";
import { Machine } from "../../src/machine/machine.ts";
import { buildRealModeRom } from "../fixtures/real-mode-rom.ts";

const RAM = 4 * 1024 * 1024;
const PAGE = 4096;

// Real mode: xor ax,ax; mov ds,ax; inc word [0x5000]; inc word [0x9000]; jmp $-8 (to the first inc)
const WRITER = [0x31, 0xc0, 0x8e, 0xd8, 0xff, 0x06, 0x00, 0x50, 0xff, 0x06, 0x00, 0x90, 0xeb, 0xf6];

async function machine(): Promise<Machine> {
  return Machine.create({ ramBytes: RAM, clock: { nsPerInstruction: 10 } });
}

describe("the dirty log", () => {
  it("gives each reader every page written since its last collect", async () => {
    const m = await machine();
    const first = m.dirtyLog.open();
    m.core.memory.write32(3 * PAGE, 1);
    const second = m.dirtyLog.open(); // starts empty: page 3 was written before it opened
    m.core.memory.write8(7 * PAGE + 5, 1);
    expect(first.collect().ranges()).toEqual([
      [3, 4],
      [7, 8],
    ]);
    m.core.memory.fill(10 * PAGE, 3 * PAGE, 0xff);
    // The first reader's collect harvested the core; the second still sees page 7.
    expect(second.collect().ranges()).toEqual([
      [7, 8],
      [10, 13],
    ]);
    expect(first.collect().ranges()).toEqual([[10, 13]]);
    expect(first.collect().count).toBe(0);
    first.close();
    second.close();
    expect(m.dirtyLog.active).toBe(false);
  });

  it("sees the CPU's writes while the guest runs, between slices", async () => {
    const m = await machine();
    m.loadBios(buildRealModeRom(WRITER));
    const reader = m.dirtyLog.open();
    m.runUntilStop({ maxInsns: 1000 });
    expect(reader.collect().ranges()).toEqual([
      [5, 6],
      [9, 10],
    ]);
    m.runUntilStop({ maxInsns: 1000 });
    // Pages stay writable through the TLB only until a harvest: they are caught again.
    expect(reader.collect().ranges()).toEqual([
      [5, 6],
      [9, 10],
    ]);
    reader.close();
  });

  it("does not report pages the balloon holds", async () => {
    const m = await machine();
    const reader = m.dirtyLog.open();
    m.balloon!.ballooned.add(20);
    m.balloon!.ballooned.add(21);
    m.core.memory.fill(19 * PAGE, 4 * PAGE, 0);
    expect(reader.collect().ranges()).toEqual([
      [19, 20],
      [22, 23],
    ]);
    reader.close();
  });

  it("stops tracking when the last reader closes and forgets what was written meanwhile", async () => {
    const m = await machine();
    const reader = m.dirtyLog.open();
    reader.close();
    m.core.memory.write32(0, 1);
    const next = m.dirtyLog.open();
    expect(next.collect().count).toBe(0);
    next.close();
  });
});
