import { describe, expect, it } from "vitest";
import type { AccessSize } from "../../src/core/core-host.ts";
import { PciDevice } from "../../src/devices/pci/device.ts";
import { createI440fx } from "../../src/devices/pci/i440fx.ts";
import { IoBus } from "../../src/platform/io-bus.ts";
import { MmioBus } from "../../src/platform/mmio-bus.ts";

class InterruptingFunction extends PciDevice {
  constructor(pin: number) {
    super({ vendorId: 0x1af4, deviceId: 0x1002, classCode: 0x050000, interruptPin: pin });
  }
}

function machine() {
  const io = new IoBus();
  const levels = new Map<number, boolean>();
  const events: string[] = [];
  const chipset = createI440fx({
    io,
    mmio: new MmioBus(),
    isaIrq: (irq) => ({
      set: (level) => {
        levels.set(irq, level);
        events.push(`IRQ${irq} ${level ? "high" : "low"}`);
      },
    }),
  });
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
  const high = (irq: number) => levels.get(irq) === true;
  const highIrqs = () => [...levels].filter(([, level]) => level).map(([irq]) => irq);
  return { ...chipset, levels, events, read, write, high, highIrqs };
}

describe("PCI INTx routing through the PIIX3", () => {
  it("starts with every PIRQ route disabled, so an interrupt goes nowhere", () => {
    const m = machine();
    const fn = new InterruptingFunction(1);
    m.bus.add(fn, 2);
    expect(m.read(1, 0x60, 4)).toBe(0x80808080);
    fn.setIntx(true);
    expect(m.events).toEqual([]);
  });

  it("sends pin p of slot d to PIRQ[(d + p - 1) mod 4] and on to the IRQ in its PIRQRC", () => {
    const m = machine();
    const irqForLink = [5, 9, 10, 11];
    m.write(
      1,
      0x60,
      4,
      irqForLink[0]! | (irqForLink[1]! << 8) | (irqForLink[2]! << 16) | (irqForLink[3]! << 24),
    );
    const devices: Array<[slot: number, pin: number, fn: InterruptingFunction]> = [];
    for (const slot of [2, 3, 4, 5]) {
      for (const pin of [1, 2, 3, 4]) {
        if ((slot + pin) % 4 !== 0 && pin !== 1) continue; // a spread of slots and pins
        const fn = new InterruptingFunction(pin);
        m.bus.add(fn, slot, pin - 1);
        devices.push([slot, pin, fn]);
      }
    }
    expect(devices.length).toBeGreaterThan(4);
    devices[0]![2].setIntx(true); // slot 2 INTA: PIRQC
    expect(m.highIrqs()).toEqual([10]);
    devices[0]![2].setIntx(false);
    for (const [slot, pin, fn] of devices) {
      const irq = irqForLink[(slot + pin - 1) % 4]!;
      fn.setIntx(true);
      expect(m.highIrqs()).toEqual([irq]);
      fn.setIntx(false);
      expect(m.highIrqs()).toEqual([]);
    }
  });

  it("keeps a shared line high until every device on it has dropped its request", () => {
    const m = machine();
    m.write(1, 0x60, 4, 0x0b0b0a0a); // PIRQC and PIRQD both on IRQ 11
    const a = new InterruptingFunction(1); // slot 2 INTA -> PIRQC
    const b = new InterruptingFunction(4); // slot 3 INTD -> PIRQC: the same link
    const c = new InterruptingFunction(1); // slot 3 INTA -> PIRQD: another link, same IRQ
    m.bus.add(a, 2);
    m.bus.add(b, 3);
    m.bus.add(c, 3, 1);
    a.setIntx(true);
    b.setIntx(true);
    c.setIntx(true);
    expect(m.high(11)).toBe(true);
    a.setIntx(false);
    expect(m.high(11)).toBe(true);
    c.setIntx(false);
    expect(m.high(11)).toBe(true);
    b.setIntx(false);
    expect(m.high(11)).toBe(false);
    // The PIC saw one rising and one falling edge, nothing in between.
    expect(m.events).toEqual(["IRQ11 high", "IRQ11 low"]);
  });

  it("reflects the request in status bit 3, and INTx disable masks the wire but not the bit", () => {
    const m = machine();
    m.write(1, 0x60, 4, 0x0b0b0a0a);
    const fn = new InterruptingFunction(1);
    m.bus.add(fn, 2);
    expect(m.read(2, 0x06, 2) & 0x08).toBe(0);
    fn.setIntx(true);
    expect(m.read(2, 0x06, 2) & 0x08).toBe(0x08);
    expect(m.high(11)).toBe(true);
    m.write(2, 0x04, 2, 0x0400);
    expect(m.high(11)).toBe(false);
    expect(m.read(2, 0x06, 2) & 0x08).toBe(0x08);
    fn.setIntx(false);
    fn.setIntx(true);
    expect(m.high(11)).toBe(false);
    m.write(2, 0x04, 2, 0);
    expect(m.high(11)).toBe(true);
    m.write(2, 0x06, 2, 0xffff); // status bit 3 is read-only
    expect(m.read(2, 0x06, 2) & 0x08).toBe(0x08);
    fn.setIntx(false);
    expect(m.read(2, 0x06, 2) & 0x08).toBe(0);
    expect(m.high(11)).toBe(false);
  });

  it("moves an asserted level when PIRQRC is rewritten, and drops it when routing is disabled", () => {
    const m = machine();
    m.write(1, 0x62, 1, 10);
    const fn = new InterruptingFunction(1);
    m.bus.add(fn, 2); // INTA of slot 2 -> PIRQC
    fn.setIntx(true);
    expect(m.highIrqs()).toEqual([10]);
    m.write(1, 0x62, 1, 11);
    expect(m.highIrqs()).toEqual([11]);
    m.write(1, 0x62, 1, 0x8b);
    expect(m.highIrqs()).toEqual([]);
    m.write(1, 0x62, 1, 0x02); // IRQ 2 is reserved in PIRQRC: not routed
    expect(m.highIrqs()).toEqual([]);
    m.write(1, 0x62, 1, 0x0f);
    expect(m.highIrqs()).toEqual([15]);
    expect(m.read(1, 0x62, 1)).toBe(0x0f);
    m.write(1, 0x62, 1, 0xff); // reserved bits 6-4 stay 0
    expect(m.read(1, 0x62, 1)).toBe(0x8f);
  });

  it("refuses setIntx on a function without an interrupt pin", () => {
    const m = machine();
    expect(() => m.hostBridge.setIntx(true)).toThrow(/no interrupt pin/);
    expect(() => new InterruptingFunction(5)).toThrow(RangeError);
  });
});
