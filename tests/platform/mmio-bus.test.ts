import { describe, expect, it } from "vitest";
import type { AccessSize } from "../../src/core/core-host.ts";
import { MmioBus, type MmioHandler } from "../../src/platform/mmio-bus.ts";

// Reads answer (tag << 24) | offset so a test can tell who answered and where.
function region(tag: number) {
  const writes: Array<[number, AccessSize, number]> = [];
  const reads: Array<[number, AccessSize]> = [];
  const handler: MmioHandler = {
    read: (offset, size) => {
      reads.push([offset, size]);
      return ((tag << 24) | offset) >>> 0;
    },
    write: (offset, size, value) => writes.push([offset, size, value]),
  };
  return { handler, reads, writes };
}

describe("MmioBus", () => {
  it("reads all-ones and drops writes where nothing is mapped", () => {
    const bus = new MmioBus();
    expect(bus.read(0xfe000000, 1)).toBe(0xff);
    expect(bus.read(0xfe000000, 2)).toBe(0xffff);
    expect(bus.read(0xfe000000, 4)).toBe(0xffffffff);
    expect(() => bus.write(0xfe000000, 4, 1)).not.toThrow();
  });

  it("hands the offset within the region, the size and the truncated value to the handler", () => {
    const bus = new MmioBus();
    const device = region(0x12);
    bus.map(0xfe001000, 0x1000, device.handler);
    expect(bus.read(0xfe001010, 4)).toBe(0x12000010);
    expect(bus.read(0xfe001ffe, 2)).toBe(0x0ffe); // truncated to 16 bits
    bus.write(0xfe001004, 1, 0x1ab);
    expect(device.reads).toEqual([
      [0x10, 4],
      [0xffe, 2],
    ]);
    expect(device.writes).toEqual([[4, 1, 0xab]]);
    expect(bus.read(0xfe002000, 1)).toBe(0xff);
    expect(bus.read(0xfe000fff, 1)).toBe(0xff);
  });

  it("finds the right one of several regions, wherever they were mapped from", () => {
    const bus = new MmioBus();
    const tags = [3, 1, 4, 2];
    for (const tag of tags) bus.map(0xe0000000 + tag * 0x10000, 0x100, region(tag).handler);
    for (const tag of [...tags, ...tags.reverse()]) {
      expect(bus.read(0xe0000000 + tag * 0x10000 + 0x20, 4)).toBe(((tag << 24) | 0x20) >>> 0);
    }
    expect(bus.read(0xe0000000 + 0x10000 + 0x100, 4)).toBe(0xffffffff);
  });

  it("refuses overlapping maps and impossible ranges", () => {
    const bus = new MmioBus();
    bus.map(0xfe000000, 0x1000, region(1).handler);
    expect(() => bus.map(0xfe000fff, 0x10, region(2).handler)).toThrow(/overlaps/);
    expect(() => bus.map(0xfdfffff0, 0x20, region(2).handler)).toThrow(/overlaps/);
    expect(() => bus.map(0xfffffff0, 0x20, region(2).handler)).toThrow(RangeError);
    expect(() => bus.map(0x1000, 0, region(2).handler)).toThrow(RangeError);
    expect(() => bus.map(-16, 16, region(2).handler)).toThrow(RangeError);
    expect(bus.isFree(0xfdfff000, 0x1000)).toBe(true);
    expect(bus.isFree(0xfdfff000, 0x1001)).toBe(false);
    bus.map(0xfe001000, 0x1000, region(3).handler); // adjacent is fine
  });

  it("unmaps a region so its addresses float again and can be mapped anew", () => {
    const bus = new MmioBus();
    const first = bus.map(0xfe000000, 0x1000, region(1).handler);
    bus.map(0xfe004000, 0x1000, region(2).handler);
    expect(bus.read(0xfe000000, 4)).toBe(0x01000000); // also primes the last-hit cache
    bus.unmap(first);
    expect(bus.read(0xfe000000, 4)).toBe(0xffffffff);
    expect(bus.read(0xfe004000, 4)).toBe(0x02000000);
    expect(() => bus.unmap(first)).toThrow(/no MMIO region/);
    bus.map(0xfe000000, 0x2000, region(5).handler);
    expect(bus.read(0xfe001800, 4)).toBe(0x05001800);
  });

  it("splits an access that straddles a region edge into bytes for whoever decodes each", () => {
    const bus = new MmioBus();
    const low = region(0xaa);
    bus.map(0x1000, 0x10, low.handler);
    // Bytes 0x100e and 0x100f hit the region (low byte of each answer), 0x1010/11 float.
    expect(bus.read(0x100e, 4)).toBe(0xffff0f0e);
    bus.write(0x100f, 2, 0x1234);
    expect(low.writes).toEqual([[0xf, 1, 0x34]]);
  });
});
