import { describe, expect, it } from "vitest";
import type { AccessSize } from "../../src/core/core-host.ts";
import { GuestMemory } from "../../src/core/guest-memory.ts";
import { PciDevice } from "../../src/devices/pci/device.ts";
import { createI440fx } from "../../src/devices/pci/i440fx.ts";
import { DualPic } from "../../src/devices/pic/device.ts";
import { setupPci, type PciSetupOptions } from "../../src/machine/firmware/pci-setup.ts";
import { IoBus } from "../../src/platform/io-bus.ts";
import { MmioBus } from "../../src/platform/mmio-bus.ts";

const RAM_BYTES = 2 * 1024 * 1024;

class BoardFunction extends PciDevice {
  constructor(
    readonly tag: number,
    options: { pin: number; io?: number; memory?: number; multiFunction?: boolean },
  ) {
    super({
      vendorId: 0x1af4,
      deviceId: 0x1000 + tag,
      classCode: 0x020000,
      interruptPin: options.pin,
      multiFunction: options.multiFunction,
    });
    const handler = {
      read: (offset: number) => ((tag << 16) | offset) >>> 0,
      write: () => {},
    };
    if (options.io) this.defineBar(0, { kind: "io", size: options.io, handler });
    if (options.memory) this.defineBar(2, { kind: "memory", size: options.memory, handler });
  }
}

function board() {
  const io = new IoBus();
  const mmio = new MmioBus();
  const pic = new DualPic();
  pic.attach(io);
  const levels = new Map<number, boolean>();
  const chipset = createI440fx({
    io,
    mmio,
    isaIrq: (irq) => ({ set: (level) => levels.set(irq, level) }),
  });
  const wasm = new WebAssembly.Memory({ initial: RAM_BYTES / 65536 });
  const memory = new GuestMemory({ memory: wasm, ramBase: 0, ramBytes: RAM_BYTES, markDirty() {} });
  const devices = [
    new BoardFunction(1, { pin: 1, io: 0x20, memory: 0x1000 }),
    new BoardFunction(2, { pin: 2, io: 0x100, memory: 0x4000 }),
    new BoardFunction(3, { pin: 1, memory: 0x100000, multiFunction: true }),
    new BoardFunction(4, { pin: 2, io: 0x10 }),
    new BoardFunction(5, { pin: 4, io: 0x4, memory: 0x10 }),
  ];
  const locations: Array<[number, number]> = [
    [2, 0],
    [3, 0],
    [4, 0],
    [4, 1],
    [6, 0],
  ];
  devices.forEach((device, i) => chipset.bus.add(device, ...locations[i]!));
  const read = (slot: number, fn: number, reg: number, size: AccessSize) => {
    io.write(0xcf8, 4, (0x80000000 | (slot << 11) | (fn << 8) | (reg & 0xfc)) >>> 0);
    return io.read(0xcfc + (reg & 3), size);
  };
  return { ...chipset, io, mmio, levels, memory, devices, locations, read };
}

interface ParsedPir {
  address: number;
  routerBus: number;
  routerDevfn: number;
  router: number;
  slots: Array<{ bus: number; devfn: number; links: number[]; bitmaps: number[] }>;
}

/** What Linux's pirq_find_routing_table accepts, found the way it looks. */
function findPir(memory: GuestMemory): ParsedPir[] {
  const found: ParsedPir[] = [];
  for (let address = 0xf0000; address + 32 <= 0x100000; address += 16) {
    if (memory.read32(address) !== 0x52495024) continue; // "$PIR"
    const size = memory.read16(address + 6);
    if (memory.read16(address + 4) !== 0x0100 || size % 16 || size < 32) continue;
    if (address + size > 0x100000) continue;
    const sum = memory.read(address, size).reduce((total, byte) => total + byte, 0);
    if (sum % 256 !== 0) continue;
    const slots = [];
    for (let at = address + 32; at < address + size; at += 16) {
      slots.push({
        bus: memory.read8(at),
        devfn: memory.read8(at + 1),
        links: [0, 1, 2, 3].map((p) => memory.read8(at + 2 + 3 * p)),
        bitmaps: [0, 1, 2, 3].map((p) => memory.read16(at + 3 + 3 * p)),
      });
    }
    found.push({
      address,
      routerBus: memory.read8(address + 8),
      routerDevfn: memory.read8(address + 9),
      router: memory.read32(address + 12),
      slots,
    });
  }
  return found;
}

function run(m: ReturnType<typeof board>, options: Partial<PciSetupOptions> = {}) {
  return setupPci({ io: m.io, memory: m.memory, ...options });
}

describe("firmware PCI setup", () => {
  it("assigns every BAR, aligned to its size, without overlaps, inside the windows", () => {
    const m = board();
    const result = run(m);
    const bars = result.functions.flatMap((fn) => fn.bars.map((bar) => ({ ...bar, fn })));
    expect(bars).toHaveLength(8);
    for (const bar of bars) {
      expect(bar.base % bar.size).toBe(0);
      if (bar.kind === "io") {
        expect(bar.base).toBeGreaterThanOrEqual(0xc000);
        expect(bar.base + bar.size).toBeLessThanOrEqual(0x10000);
      } else {
        expect(bar.base).toBeGreaterThanOrEqual(RAM_BYTES);
        expect(bar.base).toBeGreaterThanOrEqual(0xfe000000);
        expect(bar.base + bar.size).toBeLessThanOrEqual(0xfffc0000);
      }
      for (const other of bars) {
        if (other === bar || other.kind !== bar.kind) continue;
        const apart = bar.base + bar.size <= other.base || other.base + other.size <= bar.base;
        expect(apart, `${bar.kind} BARs at ${bar.base} and ${other.base}`).toBe(true);
      }
      // The BAR register holds it, and the device answers there.
      const register = m.read(bar.fn.slot, bar.fn.function, 0x10 + 4 * bar.index, 4);
      expect(register & ~(bar.size - 1) & ~0xf).toBe(bar.base & ~0xf);
      const tag =
        m.devices[m.locations.findIndex(([s, f]) => s === bar.fn.slot && f === bar.fn.function)]!
          .tag;
      const answer = bar.kind === "io" ? m.io.read(bar.base + 2, 4) : m.mmio.read(bar.base + 2, 4);
      expect(answer).toBe(((tag << 16) | 2) >>> 0);
    }
  });

  it("enables decoding for the BAR kinds a function has, and bus mastering", () => {
    const m = board();
    const result = run(m);
    for (const fn of result.functions) {
      const command = m.read(fn.slot, fn.function, 0x04, 2);
      expect(command & 0x4).toBe(0x4);
      expect((command & 0x1) !== 0).toBe(fn.bars.some((bar) => bar.kind === "io"));
      expect((command & 0x2) !== 0).toBe(
        fn.bars.some((bar) => bar.kind === "memory") || (fn.slot === 0 && fn.function === 0),
      );
    }
    expect(result.functions.map((fn) => [fn.slot, fn.function])).toEqual([
      [0, 0],
      [1, 0],
      ...m.locations,
    ]);
  });

  it("routes PIRQA-D to IRQ 10, 10, 11, 11 and makes those level-triggered", () => {
    const m = board();
    run(m);
    expect([0x60, 0x61, 0x62, 0x63].map((reg) => m.read(1, 0, reg, 1))).toEqual([10, 10, 11, 11]);
    expect(m.io.read(0x4d0, 1)).toBe(0x00);
    expect(m.io.read(0x4d1, 1)).toBe((1 << (10 - 8)) | (1 << (11 - 8)));
  });

  it("writes a $PIR table Linux finds and resolves to each function's interrupt line", () => {
    const m = board();
    const result = run(m);
    const tables = findPir(m.memory);
    expect(tables).toHaveLength(1);
    const table = tables[0]!;
    expect(table.address).toBe(result.pirTable.address);
    expect(table.router).toBe(0x70008086);
    // The router the table names is the PIIX3.
    const routerSlot = table.routerDevfn >> 3;
    expect(table.routerBus).toBe(0);
    expect(m.read(routerSlot, table.routerDevfn & 7, 0, 4)).toBe(0x70008086);
    const presentSlots = [...new Set(result.functions.map((fn) => fn.slot))];
    expect(table.slots.map((slot) => slot.devfn >> 3)).toEqual(presentSlots);

    let checked = 0;
    for (const fn of result.functions) {
      const pin = m.read(fn.slot, fn.function, 0x3d, 1);
      if (pin === 0) continue;
      const entry = table.slots.find((slot) => slot.bus === 0 && slot.devfn >> 3 === fn.slot)!;
      const link = entry.links[pin - 1]!;
      expect(link).toBeGreaterThanOrEqual(0x60);
      expect(link).toBeLessThanOrEqual(0x63);
      const irq = m.read(routerSlot, 0, link, 1); // pirq_piix_get
      expect(irq).toBeLessThan(16);
      expect(entry.bitmaps[pin - 1]! & (1 << irq)).not.toBe(0);
      expect(m.read(fn.slot, fn.function, 0x3c, 1)).toBe(irq);
      expect(fn.irq).toBe(irq);
      expect(m.io.read(0x4d0 + (irq >> 3), 1) & (1 << (irq & 7))).not.toBe(0);
      checked++;
    }
    expect(checked).toBe(m.devices.length);
  });

  it("leaves interrupts working end to end: a device's INTx reaches its interrupt line's IRQ", () => {
    const m = board();
    run(m);
    m.devices.forEach((device, i) => {
      const [slot, fn] = m.locations[i]!;
      const irq = m.read(slot, fn, 0x3c, 1);
      device.setIntx(true);
      expect(m.levels.get(irq)).toBe(true);
      device.setIntx(false);
      expect(m.levels.get(irq)).toBe(false);
    });
  });

  it("takes other IRQs and a table address when asked", () => {
    const m = board();
    const result = run(m, { pirqIrqs: [5, 9, 14, 15], pirTableAddress: 0xf8000 });
    expect([0x60, 0x61, 0x62, 0x63].map((reg) => m.read(1, 0, reg, 1))).toEqual([5, 9, 14, 15]);
    expect(m.io.read(0x4d0, 1)).toBe(1 << 5);
    expect(m.io.read(0x4d1, 1)).toBe((1 << 1) | (1 << 6) | (1 << 7));
    expect(findPir(m.memory).map((table) => table.address)).toEqual([0xf8000]);
    expect(result.pirTable).toEqual({ address: 0xf8000, size: 32 + 16 * 6 });
  });

  it("refuses impossible options", () => {
    const m = board();
    expect(() => run(m, { pirqIrqs: [10, 10, 11] })).toThrow(RangeError);
    expect(() => run(m, { pirqIrqs: [10, 2, 11, 11] })).toThrow(/PIRQB cannot be routed to IRQ 2/);
    expect(() => run(m, { memoryWindow: { base: 0x100000, end: 0x400000 } })).toThrow(/above RAM/);
    expect(() => run(m, { memoryWindow: { base: 0xfff00000, end: 0xfffff000 } })).toThrow(
      /top 256 KiB/,
    );
    expect(() => run(m, { pirTableAddress: 0xf0008 })).toThrow(/16-byte aligned/);
    expect(() => run(m, { pirTableAddress: 0xfffe0 })).toThrow(/0xF0000-0xFFFFF/);
    expect(() => run(m, { memoryWindow: { base: 0xfe000000, end: 0xfe080000 } })).toThrow(
      /no room for a 1048576-byte memory BAR/,
    );
  });
});
