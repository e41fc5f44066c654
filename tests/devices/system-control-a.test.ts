// System control port A (0x92): bit 1 is the fast A20 gate and reads back,
// writing bit 0 as 1 resets the CPU.
import { describe, expect, it } from "vitest";
import { attachSystemControlA } from "../../src/devices/system-control-a.ts";
import { IoBus } from "../../src/platform/io-bus.ts";

function board(a20 = false) {
  const lines = { a20, resets: 0 };
  const io = new IoBus();
  attachSystemControlA(io, {
    onReset: () => lines.resets++,
    setA20: (enabled) => (lines.a20 = enabled),
    a20Enabled: () => lines.a20,
  });
  return {
    io,
    lines,
    read: () => io.read(0x92, 1),
    write: (value: number) => io.write(0x92, 1, value),
  };
}

describe("port 0x92", () => {
  it("claims port 0x92 only", () => {
    const b = board(true);
    expect(b.read()).toBe(0x02);
    expect(b.io.read(0x91, 1)).toBe(0xff);
    expect(b.io.read(0x93, 1)).toBe(0xff);
  });

  it("bit 1 gates A20", () => {
    const b = board(false);
    b.write(0x02);
    expect(b.lines.a20).toBe(true);
    b.write(0x00);
    expect(b.lines.a20).toBe(false);
    expect(b.lines.resets).toBe(0);
  });

  it("reads back the A20 gate, whoever set it", () => {
    const b = board(false);
    expect(b.read() & 0x02).toBe(0);
    b.write(0x02);
    expect(b.read() & 0x02).toBe(0x02);
    b.lines.a20 = false; // say, the keyboard controller closed it
    expect(b.read() & 0x02).toBe(0);
  });

  it("writing bit 0 as 1 resets the CPU", () => {
    const b = board(false);
    b.write(0x01);
    expect(b.lines.resets).toBe(1);
    b.write(0x03);
    expect(b.lines.resets).toBe(2);
    expect(b.lines.a20).toBe(true);
  });

  it("a read-modify-write that sets A20 does not reset (Linux's enable_a20_fast)", () => {
    const b = board(false);
    for (let i = 0; i < 3; i++) b.write((b.read() | 0x02) & ~0x01);
    expect(b.lines.a20).toBe(true);
    expect(b.lines.resets).toBe(0);
    expect(b.read() & 0x01).toBe(0);
  });
});
