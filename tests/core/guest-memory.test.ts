import { beforeAll, describe, expect, it } from "vitest";
import { Core } from "../../src/core/core.ts";

const RAM = 2 * 1024 * 1024;

describe("GuestMemory", () => {
  let core: Core;
  beforeAll(async () => {
    core = await Core.create({ ramBytes: RAM });
  });

  it("reads back what it wrote, little-endian, at any alignment", () => {
    core.memory.write32(0x1001, 0x11223344);
    expect(core.memory.read8(0x1001)).toBe(0x44);
    expect(core.memory.read16(0x1003)).toBe(0x1122);
    expect(core.memory.read32(0x1001)).toBe(0x11223344);
    core.memory.write16(0x2000, 0xbeef);
    core.memory.write8(0x2002, 0x1ff); // truncated to a byte
    expect([...core.memory.read(0x2000, 3)]).toEqual([0xef, 0xbe, 0xff]);
    core.memory.fill(0x3000, 4, 0xab);
    expect(core.memory.read32(0x3000)).toBe(0xabababab);
  });

  it("returns copies, not views into the core", () => {
    core.memory.write(0x4000, new Uint8Array([1, 2, 3]));
    const copy = core.memory.read(0x4000, 3);
    copy[0] = 99;
    expect(core.memory.read8(0x4000)).toBe(1);
  });

  it("accepts the last byte of RAM and rejects anything past it", () => {
    core.memory.write8(RAM - 1, 7);
    expect(core.memory.read8(RAM - 1)).toBe(7);
    expect(() => core.memory.read8(RAM)).toThrow(RangeError);
    expect(() => core.memory.read32(RAM - 2)).toThrow(/\[0x1ffffe, 0x200002\) is outside RAM/);
    expect(() => core.memory.write(RAM - 2, new Uint8Array(4))).toThrow(RangeError);
    expect(() => core.memory.fill(RAM - 1, 2, 0)).toThrow(RangeError);
    expect(() => core.memory.read(-1, 1)).toThrow(RangeError);
    expect(() => core.memory.read(0.5, 1)).toThrow(RangeError);
    expect(() => core.memory.read(0, -1)).toThrow(RangeError);
  });

  it("writes nothing when the range is partly outside RAM", () => {
    core.memory.write16(RAM - 2, 0x5a5a);
    expect(() => core.memory.write(RAM - 2, new Uint8Array([1, 2, 3]))).toThrow(RangeError);
    expect(core.memory.read16(RAM - 2)).toBe(0x5a5a);
  });

  it("marks every page a write touches as dirty", () => {
    core.harvestDirty(); // start a fresh round
    core.memory.write8(0x5000, 1); // page 5
    core.memory.write32(0x6ffe, 0); // straddles pages 6 and 7
    core.memory.fill(0x10000, 0x2001, 0); // pages 16, 17 and one byte of 18
    core.memory.write(RAM - 1, new Uint8Array([1])); // the last page
    expect(core.harvestDirty()).toEqual([5, 6, 7, 16, 17, 18, RAM / 4096 - 1]);
    expect(core.harvestDirty()).toEqual([]); // harvesting cleared the bitmap
  });

  it("reads do not dirty pages", () => {
    core.harvestDirty();
    core.memory.read(0, 0x10000);
    core.memory.read32(0x8000);
    expect(core.harvestDirty()).toEqual([]);
  });

  it("keeps working when the core's memory has grown", async () => {
    const small = await Core.create({ ramBytes: RAM });
    small.memory.write32(0x100, 0xcafef00d);
    // Another Core in the same test would not grow this memory; grow it directly.
    const wasmMemory = (small as unknown as { exports: { memory: WebAssembly.Memory } }).exports
      .memory;
    wasmMemory.grow(1);
    expect(small.memory.read32(0x100)).toBe(0xcafef00d);
    small.memory.write32(0x104, 1);
    expect(small.memory.read32(0x104)).toBe(1);
  });
});
