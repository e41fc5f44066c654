// What a PC BIOS (SeaBIOS on i440FX) does to PCI before the OS starts, done
// through the same ports the guest will use: enumerate bus 0, size and place
// every BAR, enable decoding and bus mastering, route PIRQA-D to ISA IRQs,
// make those IRQs level-triggered, tell each function its IRQ in the
// interrupt line register, and leave a $PIR table for the OS.
import type { AccessSize } from "../../core/core-host.ts";
import type { GuestMemory } from "../../core/guest-memory.ts";
import { pirqLink, PIRQ_LINK_COUNT } from "../../devices/pci/bus.ts";
import {
  BAR_COUNT,
  BAR_MEMORY_TYPE_64,
  BAR_MEMORY_TYPE_MASK,
  BAR_SPACE_IO,
  COMMAND_BUS_MASTER,
  COMMAND_IO,
  COMMAND_MEMORY,
  HEADER_TYPE_MULTI_FUNCTION,
  MAX_FUNCTIONS,
  MAX_SLOTS,
  REG_BAR0,
  REG_CLASS_CODE,
  REG_COMMAND,
  REG_DEVICE_ID,
  REG_HEADER_TYPE,
  REG_INTERRUPT_LINE,
  REG_INTERRUPT_PIN,
  REG_VENDOR_ID,
  VENDOR_INTEL,
  VENDOR_NONE,
} from "../../devices/pci/config-header.ts";
import {
  configAddress,
  CONFIG_ADDRESS_PORT,
  CONFIG_DATA_PORT,
} from "../../devices/pci/config-ports.ts";
import {
  isRoutableIrq,
  PIIX3_DEVICE_ID,
  PIRQ_ROUTABLE_IRQS,
  REG_PIRQRC,
} from "../../devices/pci/isa-bridge/device.ts";
import { ELCR_PORT } from "../../devices/pic/device.ts";
import type { IoBus } from "../../platform/io-bus.ts";
import { BIOS_AREA_START, ONE_MIB } from "../boot/memory-map.ts";
import { encodePirTable, pirTableSize, type PirSlot } from "./pir-table.ts";

/** SeaBIOS's i440FX choice: PIRQA and B on IRQ 10, C and D on IRQ 11. */
export const DEFAULT_PIRQ_IRQS = [10, 10, 11, 11] as const;
/** Above the legacy ISA devices, as PC BIOSes place PCI I/O. */
export const DEFAULT_IO_WINDOW = { base: 0xc000, end: 0x10000 } as const;
/** Far above any RAM a browser can give and below the IOAPIC/LAPIC at 0xFEC00000. */
export const DEFAULT_MEMORY_WINDOW = { base: 0xfe000000, end: 0xfec00000 } as const;
/** The BIOS ROM's place under 4 GiB; no BAR may go there. */
const TOP_RESERVED_START = 2 ** 32 - 0x40000;
// Every memory BAR gets its own page, so mapping one never exposes another.
const MEMORY_ALIGNMENT = 0x1000;

export interface AddressWindow {
  base: number;
  /** Exclusive. */
  end: number;
}

export interface PciSetupOptions {
  /** Configuration mechanism #1 (0xCF8/0xCFC) and the ELCR (0x4D0/0x4D1) must be on it. */
  io: IoBus;
  memory: GuestMemory;
  /** ISA IRQ for PIRQA..PIRQD. */
  pirqIrqs?: readonly number[];
  ioWindow?: AddressWindow;
  memoryWindow?: AddressWindow;
  /** Where the $PIR table goes: 16-byte aligned in 0xF0000-0xFFFFF. */
  pirTableAddress?: number;
}

export interface AssignedBar {
  index: number;
  kind: "io" | "memory";
  base: number;
  size: number;
}

export interface PciFunctionSetup {
  slot: number;
  function: number;
  vendorId: number;
  deviceId: number;
  classCode: number;
  bars: AssignedBar[];
  interruptPin: number;
  /** The routed ISA IRQ written to the interrupt line register, if the function has a pin. */
  irq?: number;
}

export interface PciSetupResult {
  functions: PciFunctionSetup[];
  pirTable: { address: number; size: number };
}

interface BarRequest {
  fn: PciFunctionSetup;
  index: number;
  kind: "io" | "memory";
  size: number;
}

/** Runs the firmware's PCI setup; call once after all devices are on the bus, before the OS runs. */
export function setupPci(options: PciSetupOptions): PciSetupResult {
  const pirqIrqs = checkPirqIrqs(options.pirqIrqs ?? DEFAULT_PIRQ_IRQS);
  const ioWindow = options.ioWindow ?? DEFAULT_IO_WINDOW;
  const memoryWindow = options.memoryWindow ?? DEFAULT_MEMORY_WINDOW;
  checkWindows(ioWindow, memoryWindow, options.memory.ramBytes);
  const config = new ConfigCycles(options.io);

  const functions = enumerate(config);
  const router = functions.find(
    (fn) => fn.vendorId === VENDOR_INTEL && fn.deviceId === PIIX3_DEVICE_ID,
  );
  if (!router) throw new Error("PCI setup: no PIIX3 interrupt router on bus 0");
  const pirTableAddress = options.pirTableAddress ?? BIOS_AREA_START;
  const slots = [...new Set(functions.map((fn) => fn.slot))];
  const pirSize = pirTableSize(slots.length);
  checkPirAddress(pirTableAddress, pirSize);

  pirqIrqs.forEach((irq, link) => config.write(router, REG_PIRQRC + link, 1, irq));
  setLevelTriggered(options.io, pirqIrqs);

  const commands = functions.map((fn) => config.read(fn, REG_COMMAND, 2));
  const requests = functions.flatMap((fn) => sizeBars(config, fn));
  place(config, requests, "io", ioWindow, 1);
  place(config, requests, "memory", memoryWindow, MEMORY_ALIGNMENT);
  functions.forEach((fn, i) => {
    // What was on stays on: the host bridge always forwards memory cycles.
    let command = commands[i]! | COMMAND_BUS_MASTER;
    if (fn.bars.some((bar) => bar.kind === "io")) command |= COMMAND_IO;
    if (fn.bars.some((bar) => bar.kind === "memory")) command |= COMMAND_MEMORY;
    config.write(fn, REG_COMMAND, 2, command);
    if (fn.interruptPin >= 1 && fn.interruptPin <= PIRQ_LINK_COUNT) {
      fn.irq = pirqIrqs[pirqLink(fn.slot, fn.interruptPin)]!;
      config.write(fn, REG_INTERRUPT_LINE, 1, fn.irq);
    }
  });

  const table = encodePirTable({
    routerBus: 0,
    routerDevfn: (router.slot << 3) | router.function,
    exclusiveIrqs: pirqIrqs.reduce((mask, irq) => mask | (1 << irq), 0),
    compatibleRouterVendor: VENDOR_INTEL,
    compatibleRouterDevice: PIIX3_DEVICE_ID,
    slots: slots.map((slot) => pirSlot(slot)),
  });
  options.memory.write(pirTableAddress, table);
  return { functions, pirTable: { address: pirTableAddress, size: table.length } };
}

function pirSlot(slot: number): PirSlot {
  const pin = (number: number) => ({
    link: REG_PIRQRC + pirqLink(slot, number),
    irqBitmap: PIRQ_ROUTABLE_IRQS,
  });
  return { bus: 0, device: slot, pins: [pin(1), pin(2), pin(3), pin(4)], slotNumber: 0 };
}

function enumerate(config: ConfigCycles): PciFunctionSetup[] {
  const found: PciFunctionSetup[] = [];
  for (let slot = 0; slot < MAX_SLOTS; slot++) {
    const first = config.probe(slot, 0);
    if (!first) continue;
    found.push(first);
    const multiFunction = config.read(first, REG_HEADER_TYPE, 1) & HEADER_TYPE_MULTI_FUNCTION;
    for (let fn = 1; multiFunction && fn < MAX_FUNCTIONS; fn++) {
      const other = config.probe(slot, fn);
      if (other) found.push(other);
    }
  }
  return found;
}

// Decoding goes off first so a BAR holding all-ones never claims anything.
function sizeBars(config: ConfigCycles, fn: PciFunctionSetup): BarRequest[] {
  const command = config.read(fn, REG_COMMAND, 2);
  config.write(fn, REG_COMMAND, 2, command & ~(COMMAND_IO | COMMAND_MEMORY));
  const requests: BarRequest[] = [];
  for (let index = 0; index < BAR_COUNT; index++) {
    const offset = REG_BAR0 + 4 * index;
    const original = config.read(fn, offset, 4);
    config.write(fn, offset, 4, 0xffffffff);
    const probe = config.read(fn, offset, 4);
    config.write(fn, offset, 4, original);
    if (probe === 0) continue;
    const io = (probe & BAR_SPACE_IO) !== 0;
    const mask = io ? probe & 0xfffffffc : probe & 0xfffffff0;
    if (!io && (probe & BAR_MEMORY_TYPE_MASK) === BAR_MEMORY_TYPE_64) {
      index++; // 64-bit BARs are not placed; their upper half is the next BAR
      continue;
    }
    const size = (mask & -mask) >>> 0;
    if (size !== 0) requests.push({ fn, index, kind: io ? "io" : "memory", size });
  }
  return requests;
}

// Largest first, each aligned to its size: naturally aligned blocks pack without gaps.
function place(
  config: ConfigCycles,
  requests: readonly BarRequest[],
  kind: "io" | "memory",
  window: AddressWindow,
  minimumAlignment: number,
): void {
  const ofKind = requests.filter((request) => request.kind === kind);
  ofKind.sort((a, b) => b.size - a.size);
  let next = window.base;
  for (const request of ofKind) {
    const alignment = Math.max(request.size, minimumAlignment);
    const base = Math.ceil(next / alignment) * alignment;
    if (base + request.size > window.end) {
      throw new RangeError(
        `PCI setup: no room for a ${request.size}-byte ${kind} BAR in ` +
          `[0x${window.base.toString(16)}, 0x${window.end.toString(16)})`,
      );
    }
    config.write(request.fn, REG_BAR0 + 4 * request.index, 4, base);
    request.fn.bars.push({ index: request.index, kind, base, size: request.size });
    next = base + request.size;
  }
  for (const fn of new Set(ofKind.map((request) => request.fn))) {
    fn.bars.sort((a, b) => a.index - b.index);
  }
}

function setLevelTriggered(io: IoBus, irqs: readonly number[]): void {
  for (const irq of irqs) {
    const port = ELCR_PORT + (irq >> 3);
    io.write(port, 1, io.read(port, 1) | (1 << (irq & 7)));
  }
}

function checkPirqIrqs(irqs: readonly number[]): number[] {
  if (irqs.length !== PIRQ_LINK_COUNT) {
    throw new RangeError(`PCI setup: pirqIrqs needs ${PIRQ_LINK_COUNT} IRQs, got ${irqs.length}`);
  }
  irqs.forEach((irq, link) => {
    if (!isRoutableIrq(irq)) {
      throw new RangeError(`PCI setup: PIRQ${"ABCD"[link]} cannot be routed to IRQ ${irq}`);
    }
  });
  return [...irqs];
}

function checkWindows(io: AddressWindow, memory: AddressWindow, ramBytes: number): void {
  const valid = (w: AddressWindow, limit: number) =>
    Number.isInteger(w.base) &&
    Number.isInteger(w.end) &&
    0 < w.base &&
    w.base < w.end &&
    w.end <= limit;
  if (!valid(io, 0x10000)) throw new RangeError("PCI setup: the I/O window must lie in 1..0xFFFF");
  if (!valid(memory, TOP_RESERVED_START) || memory.base < ramBytes) {
    throw new RangeError(
      "PCI setup: the memory window must lie above RAM and below the top 256 KiB of the address space",
    );
  }
}

function checkPirAddress(address: number, size: number): void {
  if (
    !Number.isInteger(address) ||
    address % 16 !== 0 ||
    address < BIOS_AREA_START ||
    address + size > ONE_MIB
  ) {
    throw new RangeError(
      `PCI setup: the $PIR table (${size} bytes) needs a 16-byte aligned address in 0xF0000-0xFFFFF`,
    );
  }
}

/** Configuration cycles through ports 0xCF8/0xCFC, as firmware does them. */
class ConfigCycles {
  private readonly io: IoBus;

  constructor(io: IoBus) {
    this.io = io;
  }

  /** The function at slot/fn, or undefined when nothing answers. */
  probe(slot: number, fn: number): PciFunctionSetup | undefined {
    const at = { slot, function: fn };
    const vendorId = this.read(at, REG_VENDOR_ID, 2);
    if (vendorId === VENDOR_NONE) return undefined;
    return {
      slot,
      function: fn,
      vendorId,
      deviceId: this.read(at, REG_DEVICE_ID, 2),
      classCode: this.read(at, REG_CLASS_CODE - 1, 4) >>> 8,
      bars: [],
      interruptPin: this.read(at, REG_INTERRUPT_PIN, 1),
    };
  }

  read(at: { slot: number; function: number }, offset: number, size: AccessSize): number {
    this.io.write(CONFIG_ADDRESS_PORT, 4, configAddress(0, at.slot, at.function, offset));
    return this.io.read(CONFIG_DATA_PORT + (offset & 3), size);
  }

  write(
    at: { slot: number; function: number },
    offset: number,
    size: AccessSize,
    value: number,
  ): void {
    this.io.write(CONFIG_ADDRESS_PORT, 4, configAddress(0, at.slot, at.function, offset));
    this.io.write(CONFIG_DATA_PORT + (offset & 3), size, value);
  }
}
