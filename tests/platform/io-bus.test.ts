import { describe, expect, it } from "vitest";
import type { AccessSize } from "../../src/core/core-host.ts";
import { IoBus, type PortHandler } from "../../src/platform/io-bus.ts";

function recorder(readValue: number) {
  const writes: Array<[number, AccessSize, number]> = [];
  const reads: Array<[number, AccessSize]> = [];
  const handler: PortHandler = {
    read: (port, size) => {
      reads.push([port, size]);
      return readValue;
    },
    write: (port, size, value) => writes.push([port, size, value]),
  };
  return { handler, reads, writes };
}

describe("IoBus", () => {
  it("reads all-ones from unclaimed ports and ignores writes to them", () => {
    const bus = new IoBus();
    expect(bus.read(0x3f8, 1)).toBe(0xff);
    expect(bus.read(0x3f8, 2)).toBe(0xffff);
    expect(bus.read(0x3f8, 4)).toBe(0xffffffff);
    expect(() => bus.write(0x3f8, 1, 0x41)).not.toThrow();
  });

  it("routes every port of a range to its handler, with port and size", () => {
    const bus = new IoBus();
    const device = recorder(0x1234);
    bus.register(0x3f8, 8, device.handler);
    expect(bus.read(0x3f8, 1)).toBe(0x34); // truncated to the access size
    expect(bus.read(0x3ff, 2)).toBe(0x1234);
    bus.write(0x3fc, 1, 0x1ff);
    expect(device.reads).toEqual([
      [0x3f8, 1],
      [0x3ff, 2],
    ]);
    expect(device.writes).toEqual([[0x3fc, 1, 0xff]]);
    expect(bus.read(0x400, 1)).toBe(0xff); // just past the range
    expect(bus.read(0x3f7, 1)).toBe(0xff); // just before it
  });

  it("refuses overlapping claims and impossible ranges", () => {
    const bus = new IoBus();
    bus.register(0x60, 1, recorder(0).handler);
    expect(() => bus.register(0x5f, 2, recorder(0).handler)).toThrow(/0x60 is already claimed/);
    expect(() => bus.register(0xffff, 2, recorder(0).handler)).toThrow(RangeError);
    expect(() => bus.register(0x10, 0, recorder(0).handler)).toThrow(RangeError);
    // The failed claim of 0x5f..0x60 must not have taken 0x5f.
    expect(bus.read(0x5f, 1)).toBe(0xff);
  });
});

describe("IoBus dynamic mapping", () => {
  it("unregister frees exactly the claimed ports, which can then be claimed again", () => {
    const bus = new IoBus();
    const first = recorder(0x11);
    const neighbour = recorder(0x22);
    const claim = bus.register(0xc000, 0x20, first.handler);
    bus.register(0xc020, 0x10, neighbour.handler);
    expect(claim).toMatchObject({ portStart: 0xc000, count: 0x20 });
    expect(bus.read(0xc01f, 1)).toBe(0x11);

    bus.unregister(claim);
    expect(bus.read(0xc000, 1)).toBe(0xff);
    expect(bus.read(0xc01f, 1)).toBe(0xff);
    expect(bus.read(0xc020, 1)).toBe(0x22); // the neighbour keeps its ports
    expect(bus.isFree(0xc000, 0x20)).toBe(true);
    expect(bus.isFree(0xc000, 0x21)).toBe(false);

    const moved = recorder(0x33);
    bus.register(0xc000, 0x20, moved.handler);
    expect(bus.read(0xc010, 1)).toBe(0x33);
    expect(first.reads).toHaveLength(1);
  });

  it("refuses to release a claim twice, so a stale handle cannot unmap a newer device", () => {
    const bus = new IoBus();
    const stale = bus.register(0x100, 4, recorder(0).handler);
    bus.unregister(stale);
    bus.register(0x100, 4, recorder(0x44).handler);
    expect(() => bus.unregister(stale)).toThrow(/not claimed/);
    expect(bus.read(0x102, 1)).toBe(0x44);
  });

  it("isFree checks its range like register does", () => {
    const bus = new IoBus();
    bus.register(0x60, 1, recorder(0).handler);
    expect(bus.isFree(0x5f, 1)).toBe(true);
    expect(bus.isFree(0x5f, 2)).toBe(false);
    expect(() => bus.isFree(0xffff, 2)).toThrow(RangeError);
  });
});
