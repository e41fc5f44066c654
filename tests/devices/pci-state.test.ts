import { describe, expect, it } from "vitest";
import type { AccessSize } from "../../src/core/core-host.ts";
import { PciDevice } from "../../src/devices/pci/device.ts";
import { createI440fx } from "../../src/devices/pci/i440fx.ts";
import { expectInt, expectObject } from "../../src/platform/state-check.ts";
import { IoBus } from "../../src/platform/io-bus.ts";
import { MmioBus } from "../../src/platform/mmio-bus.ts";
import { restoreComponent } from "../../src/platform/stateful.ts";

// A function with an I/O and a memory BAR and one register of its own outside
// configuration space, the way a virtio device keeps its queues.
class StatefulFunction extends PciDevice {
  counter = 0;

  constructor() {
    super({ vendorId: 0x1af4, deviceId: 0x1045, classCode: 0x00ff00, interruptPin: 1 });
    const handler = {
      read: (offset: number, size: AccessSize) => (offset === 0 && size === 4 ? this.counter : 0),
      write: (_offset: number, _size: AccessSize, value: number) => {
        this.counter = value;
      },
    };
    this.defineBar(0, { kind: "io", size: 0x20, handler });
    this.defineBar(1, { kind: "memory", size: 0x1000, handler });
    this.addCapability(0x09, 0x10);
  }

  protected override saveDeviceState(): unknown {
    return { counter: this.counter };
  }

  protected override prepareDeviceState(value: unknown, what: string): () => void {
    const counter = expectInt(expectObject(value, what), "counter", 0, 0xffffffff, what);
    return () => {
      this.counter = counter;
    };
  }
}

function machine() {
  const io = new IoBus();
  const mmio = new MmioBus();
  const levels = new Map<number, boolean>();
  const chipset = createI440fx({
    io,
    mmio,
    isaIrq: (irq) => ({ set: (level) => levels.set(irq, level) }),
  });
  const device = new StatefulFunction();
  chipset.bus.add(device, 2);
  const select = (slot: number, reg: number) =>
    io.write(0xcf8, 4, (0x80000000 | (slot << 11) | (reg & 0xfc)) >>> 0);
  const read = (slot: number, reg: number, size: AccessSize) => {
    select(slot, reg);
    return io.read(0xcfc + (reg & 3), size);
  };
  const write = (slot: number, reg: number, size: AccessSize, value: number) => {
    select(slot, reg);
    io.write(0xcfc + (reg & 3), size, value);
  };
  const dump = (slot: number) => Array.from({ length: 64 }, (_, i) => read(slot, 4 * i, 4));
  return { ...chipset, io, mmio, levels, device, read, write, dump };
}

/** A guest that has programmed everything: BARs, decoding, routing, an interrupt, the latch. */
function programmed() {
  const m = machine();
  m.write(2, 0x10, 4, 0xc040);
  m.write(2, 0x14, 4, 0xfe003000);
  m.write(2, 0x04, 2, 0x0007);
  m.write(2, 0x3c, 1, 11); // slot 2 INTA is on PIRQC
  m.write(1, 0x60, 4, 0x0b0b0a0a);
  m.io.write(0xc040, 4, 0x1234);
  m.device.setIntx(true);
  m.io.write(0xcf9, 1, 0x02);
  m.io.write(0xcf8, 4, 0x80000810); // 00:01.0 register 0x10, left latched
  return m;
}

describe("PCI save/restore", () => {
  it("round-trips through JSON and brings back mappings, IRQ levels, latch and registers", () => {
    const source = programmed();
    const expectedConfig = [0, 1, 2].map((slot) => source.dump(slot));
    source.io.write(0xcf8, 4, 0x80000810);
    const saved = JSON.parse(JSON.stringify(source.bus.save()));

    const target = machine();
    restoreComponent(target.bus, saved);
    expect(JSON.parse(JSON.stringify(target.bus.save()))).toEqual(saved);
    expect(target.io.read(0xcf8, 4)).toBe(0x80000810);
    expect(target.io.read(0xcf9, 1)).toBe(0x02);
    expect(target.levels.get(11)).toBe(true);
    expect(target.io.read(0xc040, 4)).toBe(0x1234);
    expect(target.mmio.read(0xfe003000, 4)).toBe(0x1234);
    expect([0, 1, 2].map((slot) => target.dump(slot))).toEqual(expectedConfig);

    // The restored machine keeps working: dropping the request drops the IRQ.
    target.device.setIntx(false);
    expect(target.levels.get(11)).toBe(false);
  });

  it("replaces the mappings and levels the target had before", () => {
    const source = machine();
    source.write(2, 0x10, 4, 0xd000);
    source.write(2, 0x04, 2, 0x0001);
    const saved = source.bus.save();

    const target = programmed();
    restoreComponent(target.bus, saved);
    expect(target.io.read(0xc040, 4)).toBe(0xffffffff);
    expect(target.mmio.read(0xfe003000, 4)).toBe(0xffffffff);
    expect(target.io.read(0xd000, 4)).toBe(0);
    expect(target.levels.get(11)).toBe(false); // routing disabled, request gone
    expect(target.bus.mappedWindows()).toHaveLength(1);
  });

  describe("rejects a malformed state and changes nothing", () => {
    type Mutation = (state: Record<string, any>) => void; // eslint-disable-line @typescript-eslint/no-explicit-any
    const cases: Array<[string, Mutation, ErrorConstructor, RegExp]> = [
      ["not an object", (s) => Object.keys(s).forEach((k) => delete s[k]), TypeError, /version/],
      ["a future version", (s) => (s.version = 2), RangeError, /version 2/],
      [
        "a missing function",
        (s) => s.functions.pop(),
        RangeError,
        /holds 2 functions, the bus has 3/,
      ],
      ["functions out of order", (s) => s.functions.reverse(), RangeError, /slot 2/],
      ["a short config", (s) => s.functions[2].config.pop(), RangeError, /256\.\.256/],
      ["a non-byte", (s) => (s.functions[2].config[0x3c] = 256), RangeError, /config\[60\]/],
      ["a string byte", (s) => (s.functions[2].config[0x3c] = "1"), TypeError, /config\[60\]/],
      ["another vendor", (s) => (s.functions[2].config[0] = 0x86), RangeError, /config\[0x00\]/],
      ["an unaligned BAR", (s) => (s.functions[2].config[0x10] = 0x45), RangeError, /\[0x10\]/],
      ["a moved capability", (s) => (s.functions[2].config[0x34] = 0x44), RangeError, /0x34/],
      [
        "an interrupt on a pinless function",
        (s) => (s.functions[0].config[6] |= 8),
        RangeError,
        /0x06/,
      ],
      [
        "a reserved latch bit",
        (s) => (s.functions[0].device.configAddress = 1),
        RangeError,
        /reserved/,
      ],
      [
        "a latch of the wrong type",
        (s) => (s.functions[0].device.configAddress = "x"),
        TypeError,
        /configAddress/,
      ],
      [
        "a reset control value",
        (s) => (s.functions[1].device.resetControl = 4),
        RangeError,
        /resetControl/,
      ],
      [
        "missing device state",
        (s) => delete s.functions[1].device,
        TypeError,
        /functions\[1\]\.device must be an object/,
      ],
      [
        "bad device-specific state",
        (s) => (s.functions[2].device.counter = -1),
        RangeError,
        /counter/,
      ],
      ["a function in another slot", (s) => (s.functions[2].slot = 3), RangeError, /slot 3/],
    ];
    for (const [name, mutate, type, message] of cases) {
      it(name, () => {
        const donor = machine();
        donor.write(2, 0x10, 4, 0xe000);
        donor.write(2, 0x04, 2, 0x0001);
        const state = JSON.parse(JSON.stringify(donor.bus.save()));
        mutate(state);

        const target = programmed();
        const before = JSON.stringify(target.bus.save());
        expect(() => restoreComponent(target.bus, state)).toThrow(type);
        expect(() => restoreComponent(target.bus, state)).toThrow(message);
        expect(JSON.stringify(target.bus.save())).toBe(before);
        expect(target.io.read(0xc040, 4)).toBe(0x1234);
        expect(target.io.read(0xe000, 4)).toBe(0xffffffff);
        expect(target.levels.get(11)).toBe(true);
      });
    }
  });

  it("rejects values that are not states at all", () => {
    const target = programmed();
    expect(() => restoreComponent(target.bus, null)).toThrow(TypeError);
    expect(() => restoreComponent(target.bus, [])).toThrow(TypeError);
    expect(() => restoreComponent(target.bus, { version: 1, functions: {} })).toThrow(
      /functions must be an array/,
    );
    expect(target.io.read(0xc040, 4)).toBe(0x1234);
  });
});
