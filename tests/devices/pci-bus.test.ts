import { describe, expect, it } from "vitest";
import type { AccessSize } from "../../src/core/core-host.ts";
import { PciDevice } from "../../src/devices/pci/device.ts";
import { createI440fx } from "../../src/devices/pci/i440fx.ts";
import type { ResetKind } from "../../src/devices/pci/isa-bridge/device.ts";
import { IoBus } from "../../src/platform/io-bus.ts";
import { MmioBus } from "../../src/platform/mmio-bus.ts";

// A function with an optional I/O BAR 0 and memory BAR 1; its BARs answer
// (tag << 16) | offset and log every access.
class TestFunction extends PciDevice {
  readonly accesses: string[] = [];

  constructor(
    readonly tag: number,
    options: {
      ioSize?: number;
      memorySize?: number;
      prefetchable?: boolean;
      multiFunction?: boolean;
      capabilities?: Array<[id: number, length: number]>;
    } = {},
  ) {
    super({
      vendorId: 0x1af4,
      deviceId: 0x1000 + tag,
      classCode: 0x020000,
      revision: tag,
      subsystemVendorId: 0x1af4,
      subsystemId: 0x0005,
      interruptPin: 1,
      multiFunction: options.multiFunction,
    });
    if (options.ioSize)
      this.defineBar(0, { kind: "io", size: options.ioSize, handler: this.bar("io") });
    if (options.memorySize) {
      this.defineBar(1, {
        kind: "memory",
        size: options.memorySize,
        prefetchable: options.prefetchable,
        handler: this.bar("mem"),
      });
    }
    this.capabilityOffsets = (options.capabilities ?? []).map(([id, length]) =>
      this.addCapability(id, length),
    );
  }

  capabilityOffsets: number[];

  /** What a device does when it sees an error on the bus. */
  signalStatus(bits: number): void {
    this.writeRaw(0x06, 2, this.readRaw(0x06, 2) | bits);
  }

  defineLateBar(): void {
    this.defineBar(5, { kind: "io", size: 4, handler: this.bar("late") });
  }

  private bar(name: string) {
    return {
      read: (offset: number, size: AccessSize) => {
        this.accesses.push(`${name} read ${offset}/${size}`);
        return ((this.tag << 16) | offset) >>> 0;
      },
      write: (offset: number, size: AccessSize, value: number) => {
        this.accesses.push(`${name} write ${offset}/${size}=${value.toString(16)}`);
      },
    };
  }
}

function machine() {
  const io = new IoBus();
  const mmio = new MmioBus();
  const resets: ResetKind[] = [];
  const chipset = createI440fx({
    io,
    mmio,
    isaIrq: () => ({ set() {} }),
    onReset: (kind) => resets.push(kind),
  });
  // Configuration cycles as a guest does them; the address is built here on purpose.
  const select = (slot: number, fn: number, reg: number, bus = 0) =>
    io.write(0xcf8, 4, (0x80000000 | (bus << 16) | (slot << 11) | (fn << 8) | (reg & 0xfc)) >>> 0);
  const read = (slot: number, fn: number, reg: number, size: AccessSize) => {
    select(slot, fn, reg);
    return io.read(0xcfc + (reg & 3), size);
  };
  const write = (slot: number, fn: number, reg: number, size: AccessSize, value: number) => {
    select(slot, fn, reg);
    io.write(0xcfc + (reg & 3), size, value);
  };
  return { io, mmio, resets, ...chipset, select, read, write };
}

describe("PCI configuration mechanism #1", () => {
  it("latches the address only from a 32-bit write to 0xCF8, reserved bits reading 0", () => {
    const m = machine();
    m.io.write(0xcf8, 4, 0x80000000);
    expect(m.io.read(0xcf8, 4)).toBe(0x80000000);
    m.io.write(0xcf8, 4, 0xff00ff07);
    expect(m.io.read(0xcf8, 4)).toBe(0x8000ff04);
    // Linux's type-1 probe writes a byte to 0xCFB first: that must not disturb the latch.
    m.io.write(0xcfb, 1, 0x01);
    m.io.write(0xcf8, 2, 0x1234);
    expect(m.io.read(0xcf8, 4)).toBe(0x8000ff04);
    expect(m.io.read(0xcf8, 1)).toBe(0xff);
    expect(m.io.read(0xcfa, 2)).toBe(0xffff);
  });

  it("reads the host bridge and PIIX3 headers with byte, word and dword accesses at each offset", () => {
    const m = machine();
    expect(m.read(0, 0, 0x00, 4)).toBe(0x12378086);
    expect(m.read(0, 0, 0x00, 2)).toBe(0x8086);
    expect(m.read(0, 0, 0x02, 2)).toBe(0x1237);
    expect([0, 1, 2, 3].map((i) => m.read(0, 0, i, 1))).toEqual([0x86, 0x80, 0x37, 0x12]);
    expect(m.read(0, 0, 0x08, 4) >>> 8).toBe(0x060000);
    expect(m.read(1, 0, 0x00, 4)).toBe(0x70008086);
    expect(m.read(1, 0, 0x0a, 2)).toBe(0x0601);
    expect(m.read(1, 0, 0x0e, 1)).toBe(0x80); // multi-function, like the real PIIX3
    // A word at 0xCFF has its upper byte on port 0xD00, which nothing decodes.
    m.select(0, 0, 0);
    expect(m.io.read(0xcff, 2)).toBe(0xff12);
  });

  it("answers all-ones for absent slots, other buses and with the enable bit clear", () => {
    const m = machine();
    expect(m.read(7, 0, 0x00, 4)).toBe(0xffffffff);
    expect(m.read(7, 0, 0x3c, 1)).toBe(0xff);
    m.select(0, 0, 0, 1);
    expect(m.io.read(0xcfc, 4)).toBe(0xffffffff);
    m.io.write(0xcf8, 4, 0x00000000); // 00:00.0 register 0, but disabled
    expect(m.io.read(0xcfc, 4)).toBe(0xffffffff);
    m.io.write(0xcf8, 4, 0x0000003c);
    m.io.write(0xcfc, 1, 0x0b); // goes nowhere
    expect(m.read(0, 0, 0x3c, 1)).toBe(0);
  });

  it("shows functions 1-7 only behind a multi-function function 0", () => {
    const m = machine();
    m.bus.add(new TestFunction(1), 3, 0);
    m.bus.add(new TestFunction(2), 3, 1);
    m.bus.add(new TestFunction(3, { multiFunction: true }), 4, 0);
    m.bus.add(new TestFunction(4), 4, 2);
    expect(m.read(3, 0, 0, 2)).toBe(0x1af4);
    expect(m.read(3, 1, 0, 4)).toBe(0xffffffff);
    expect(m.read(4, 2, 0, 4)).toBe(0x10041af4);
    expect(m.read(4, 1, 0, 4)).toBe(0xffffffff);
    expect(m.read(1, 1, 0, 4)).toBe(0xffffffff); // the PIIX3's IDE function is not modelled
    expect(() => m.bus.add(new TestFunction(5), 3, 1)).toThrow(/taken/);
  });
});

describe("PCI configuration header", () => {
  it("keeps IDs, class, header type and pin read-only and the interrupt line writable", () => {
    const m = machine();
    m.bus.add(new TestFunction(7), 2);
    const before = [0x00, 0x08, 0x0c, 0x2c, 0x3c].map((reg) => m.read(2, 0, reg, 4));
    for (const reg of [0x00, 0x08, 0x2c, 0x3c]) m.write(2, 0, reg, 4, 0xffffffff);
    expect(m.read(2, 0, 0x00, 4)).toBe(before[0]);
    expect(m.read(2, 0, 0x08, 4)).toBe(before[1]);
    expect(m.read(2, 0, 0x2c, 4)).toBe(0x00051af4);
    expect(m.read(2, 0, 0x3d, 1)).toBe(1);
    expect(m.read(2, 0, 0x3c, 1)).toBe(0xff);
    m.write(2, 0, 0x3c, 1, 0x0b);
    expect(m.read(2, 0, 0x3c, 4)).toBe(0x0000010b);
  });

  it("implements only the command bits it models", () => {
    const m = machine();
    m.bus.add(new TestFunction(1), 2);
    m.write(2, 0, 0x04, 2, 0xffff);
    // I/O, memory, bus master, parity response, SERR#, INTx disable.
    expect(m.read(2, 0, 0x04, 2)).toBe(0x0547);
    m.write(2, 0, 0x04, 2, 0);
    expect(m.read(2, 0, 0x04, 2)).toBe(0);
  });

  it("clears status error bits only where software writes 1", () => {
    const m = machine();
    const fn = new TestFunction(1);
    m.bus.add(fn, 2);
    fn.signalStatus(0x2000 | 0x1000 | 0x8000); // master abort, target abort, parity error
    expect(m.read(2, 0, 0x06, 2) & 0xf900).toBe(0xb000);
    m.write(2, 0, 0x06, 2, 0x2000);
    expect(m.read(2, 0, 0x06, 2) & 0xf900).toBe(0x9000);
    m.write(2, 0, 0x04, 4, 0); // a dword write of zeros to command+status clears nothing
    expect(m.read(2, 0, 0x06, 2) & 0xf900).toBe(0x9000);
    m.write(2, 0, 0x07, 1, 0xff);
    expect(m.read(2, 0, 0x06, 2)).toBe(0x0200); // DEVSEL timing stays
  });

  it("links capabilities from 0x34 and flags them in status bit 4", () => {
    const m = machine();
    m.bus.add(
      new TestFunction(1, {
        capabilities: [
          [0x09, 0x14],
          [0x11, 0x0c],
          [0x09, 0x10],
        ],
      }),
      2,
    );
    m.bus.add(new TestFunction(2), 3);
    expect(m.read(2, 0, 0x06, 2) & 0x10).toBe(0x10);
    const walk: Array<[number, number]> = [];
    for (let at = m.read(2, 0, 0x34, 1); at !== 0; at = m.read(2, 0, at + 1, 1)) {
      expect(at & 3).toBe(0);
      expect(at).toBeGreaterThanOrEqual(0x40);
      walk.push([at, m.read(2, 0, at, 1)]);
      expect(walk.length).toBeLessThan(4);
    }
    expect(walk).toEqual([
      [0x40, 0x09],
      [0x54, 0x11],
      [0x60, 0x09],
    ]);
    expect(m.read(3, 0, 0x06, 2) & 0x10).toBe(0);
    expect(m.read(3, 0, 0x34, 1)).toBe(0);
  });

  it("refuses BARs and capabilities added after the function joined the bus", () => {
    const m = machine();
    const fn = new TestFunction(1);
    m.bus.add(fn, 2);
    expect(() => fn.defineLateBar()).toThrow(/before joining/);
    expect(() => new TestFunction(2, { ioSize: 3 })).toThrow(RangeError);
    expect(() => new TestFunction(2, { ioSize: 512 })).toThrow(RangeError);
    expect(() => new TestFunction(2, { memorySize: 8 })).toThrow(RangeError);
  });
});

describe("PCI BARs", () => {
  it("report their size and type when written with all-ones, and hold addresses aligned to it", () => {
    const m = machine();
    m.bus.add(new TestFunction(1, { ioSize: 0x20, memorySize: 0x4000, prefetchable: true }), 2);
    m.bus.add(new TestFunction(2, { memorySize: 0x100000 }), 3);
    for (let bar = 0; bar < 6; bar++) m.write(2, 0, 0x10 + 4 * bar, 4, 0xffffffff);
    expect(m.read(2, 0, 0x10, 4)).toBe(0xffffffe1); // I/O, 32 ports
    expect(m.read(2, 0, 0x14, 4)).toBe(0xffffc008); // prefetchable 32-bit memory, 16 KiB
    for (let bar = 2; bar < 6; bar++) expect(m.read(2, 0, 0x10 + 4 * bar, 4)).toBe(0);
    m.write(3, 0, 0x14, 4, 0xffffffff);
    expect(m.read(3, 0, 0x14, 4)).toBe(0xfff00000);

    m.write(2, 0, 0x10, 4, 0xc0ff);
    expect(m.read(2, 0, 0x10, 4)).toBe(0xc0e1);
    m.write(2, 0, 0x14, 4, 0xfe012345);
    expect(m.read(2, 0, 0x14, 4)).toBe(0xfe010008);
    // Byte-wise programming works too.
    m.write(2, 0, 0x11, 1, 0xd0);
    expect(m.read(2, 0, 0x10, 4)).toBe(0xd0e1);
  });

  it("maps an I/O BAR only while I/O space decoding is on, and follows it when it moves", () => {
    const m = machine();
    const fn = new TestFunction(5, { ioSize: 0x20 });
    m.bus.add(fn, 2);
    m.write(2, 0, 0x10, 4, 0xc100);
    expect(m.io.read(0xc104, 2)).toBe(0xffff);
    m.write(2, 0, 0x04, 2, 0x0002); // memory only
    expect(m.io.read(0xc104, 2)).toBe(0xffff);
    m.write(2, 0, 0x04, 2, 0x0001);
    expect(m.io.read(0xc104, 2)).toBe(0x0004);
    m.io.write(0xc11f, 1, 0x5a);
    expect(m.io.read(0xc120, 1)).toBe(0xff);

    m.write(2, 0, 0x10, 4, 0xc200);
    expect(m.io.read(0xc104, 1)).toBe(0xff);
    expect(m.io.read(0xc208, 4)).toBe(0x00050008);
    m.write(2, 0, 0x04, 2, 0);
    expect(m.io.read(0xc208, 4)).toBe(0xffffffff);
    expect(fn.accesses).toEqual(["io read 4/2", "io write 31/1=5a", "io read 8/4"]);
    expect(m.io.isFree(0xc000, 0x400)).toBe(true);
  });

  it("maps a memory BAR only while memory space decoding is on, and follows it when it moves", () => {
    const m = machine();
    const fn = new TestFunction(6, { memorySize: 0x1000 });
    m.bus.add(fn, 2);
    m.write(2, 0, 0x14, 4, 0xfe000000);
    m.write(2, 0, 0x04, 2, 0x0001);
    expect(m.mmio.read(0xfe000010, 4)).toBe(0xffffffff);
    m.write(2, 0, 0x04, 2, 0x0002);
    expect(m.mmio.read(0xfe000010, 4)).toBe(0x00060010);
    m.write(2, 0, 0x14, 4, 0xfe100000);
    expect(m.mmio.read(0xfe000010, 4)).toBe(0xffffffff);
    m.mmio.write(0xfe100ffc, 4, 0xdeadbeef);
    m.write(2, 0, 0x14, 4, 0); // address 0 means unassigned: not decoded
    expect(m.mmio.isFree(0, 0x1000)).toBe(true);
    expect(m.bus.mappedWindows()).toEqual([]);
    expect(fn.accesses).toEqual(["mem read 16/4", "mem write 4092/4=deadbeef"]);
  });

  it("lets the lower devfn win overlapping BARs and maps the other once the clash is gone", () => {
    const m = machine();
    const first = new TestFunction(1, { ioSize: 0x40 });
    const second = new TestFunction(2, { ioSize: 0x20 });
    m.bus.add(first, 2);
    m.bus.add(second, 3);
    m.write(3, 0, 0x10, 4, 0xc020);
    m.write(3, 0, 0x04, 2, 1);
    expect(m.io.read(0xc020, 4)).toBe(0x00020000);
    m.write(2, 0, 0x10, 4, 0xc000); // covers 0xC000-0xC03F, over the second one
    m.write(2, 0, 0x04, 2, 1);
    expect(m.io.read(0xc020, 4)).toBe(0x00010020);
    m.write(2, 0, 0x10, 4, 0xc100);
    expect(m.io.read(0xc020, 4)).toBe(0x00020000);
    expect(m.io.read(0xc100, 4)).toBe(0x00010000);
  });

  it("leaves a BAR unmapped rather than failing when it lands on a legacy device's ports", () => {
    const m = machine();
    m.io.register(0x3f8, 8, { read: () => 0x55, write: () => {} });
    m.bus.add(new TestFunction(1, { ioSize: 0x20 }), 2);
    m.write(2, 0, 0x10, 4, 0x3e0);
    expect(() => m.write(2, 0, 0x04, 2, 1)).not.toThrow();
    expect(m.io.read(0x3f8, 1)).toBe(0x55);
    expect(m.io.read(0x3e0, 1)).toBe(0xff);
    m.write(2, 0, 0x10, 4, 0xcf0); // onto 0xCF8-0xCFF, the config ports themselves
    expect(m.read(0, 0, 0, 2)).toBe(0x8086);
    m.write(2, 0, 0x10, 4, 0xc000);
    expect(m.io.read(0xc000, 4)).toBe(0x00010000);
  });

  it("unmaps everything and clears the address latch on a PCI reset", () => {
    const m = machine();
    m.bus.add(new TestFunction(1, { ioSize: 0x20, memorySize: 0x1000 }), 2);
    m.write(2, 0, 0x10, 4, 0xc000);
    m.write(2, 0, 0x14, 4, 0xfe000000);
    m.write(2, 0, 0x04, 2, 3);
    m.write(1, 0, 0x60, 1, 0x0a);
    m.bus.reset();
    expect(m.io.read(0xcf8, 4)).toBe(0);
    expect(m.io.read(0xc000, 4)).toBe(0xffffffff);
    expect(m.mmio.read(0xfe000000, 4)).toBe(0xffffffff);
    expect(m.read(2, 0, 0x10, 4)).toBe(0x1);
    expect(m.read(2, 0, 0x04, 2)).toBe(0);
    expect(m.read(1, 0, 0x60, 1)).toBe(0x80);
    expect(m.read(0, 0, 0x04, 2)).toBe(0x0006);
  });
});

describe("PIIX3 reset control at 0xCF9", () => {
  it("requests a reset on a byte write with bit 2 set, bit 1 choosing hard or soft", () => {
    const m = machine();
    m.io.write(0xcf9, 1, 0x02);
    expect(m.resets).toEqual([]);
    expect(m.io.read(0xcf9, 1)).toBe(0x02);
    m.io.write(0xcf9, 1, 0x06);
    m.io.write(0xcf9, 1, 0x04);
    expect(m.resets).toEqual(["hard", "soft"]);
    expect(m.io.read(0xcf9, 1)).toBe(0x00);
  });

  it("is not reached by dword or word accesses, which belong to the address register", () => {
    const m = machine();
    m.io.write(0xcf8, 4, 0x80000400); // byte 0xCF9 of this dword has bit 2 set
    m.io.write(0xcf8, 2, 0x0600);
    expect(m.resets).toEqual([]);
    expect(m.io.read(0xcf8, 4)).toBe(0x80000400);
  });

  it("follows Linux's reboot sequence: read, set hard reset, then reset the CPU", () => {
    const m = machine();
    const cf9 = m.io.read(0xcf9, 1) & ~0x0e;
    m.io.write(0xcf9, 1, cf9 | 0x02);
    m.io.write(0xcf9, 1, cf9 | 0x0e);
    expect(m.resets).toEqual(["hard"]);
  });
});
