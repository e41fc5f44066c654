// A fake virtio guest driver for tests, and the board it runs on. The board is
// the real chipset (i440FX + PIIX3 + PIC ELCR) with firmware PCI setup, so
// BARs and the IRQ come from the same code a booting guest sees. The driver
// does what Linux's virtio_pci (modern or legacy) and virtio_ring do: it
// finds the device through configuration cycles, walks the vendor
// capabilities, negotiates features, lays out split rings in guest RAM, posts
// buffers, notifies and reaps the used ring. Its layout constants come from
// the virtio specification, not from the device code, so the two check each
// other. It can also break the rules on purpose.
import type { AccessSize } from "../../src/core/core-host.ts";
import { GuestMemory } from "../../src/core/guest-memory.ts";
import type { PciBus } from "../../src/devices/pci/bus.ts";
import { createI440fx } from "../../src/devices/pci/i440fx.ts";
import { DualPic } from "../../src/devices/pic/device.ts";
import type { VirtioDeviceModel } from "../../src/devices/virtio/device-model.ts";
import { VirtioPciTransport } from "../../src/devices/virtio/pci-transport.ts";
import { setupPci, type PciFunctionSetup } from "../../src/machine/firmware/pci-setup.ts";
import { IoBus } from "../../src/platform/io-bus.ts";
import { MmioBus } from "../../src/platform/mmio-bus.ts";

// ---- the specification's numbers ----

export const STATUS = {
  ACKNOWLEDGE: 1,
  DRIVER: 2,
  DRIVER_OK: 4,
  FEATURES_OK: 8,
  NEEDS_RESET: 0x40,
  FAILED: 0x80,
} as const;

export const F_INDIRECT_DESC = 1n << 28n;
export const F_EVENT_IDX = 1n << 29n;
export const F_VERSION_1 = 1n << 32n;

export const DESC_NEXT = 1;
export const DESC_WRITE = 2;
export const DESC_INDIRECT = 4;
const AVAIL_NO_INTERRUPT = 1;
const USED_NO_NOTIFY = 1;

export const CAP = { COMMON: 1, NOTIFY: 2, ISR: 3, DEVICE: 4, PCI_CFG: 5 } as const;

/** struct virtio_pci_common_cfg offsets. */
export const COMMON = {
  DFSELECT: 0x00,
  DF: 0x04,
  GFSELECT: 0x08,
  GF: 0x0c,
  MSIX: 0x10,
  NUMQ: 0x12,
  STATUS: 0x14,
  GENERATION: 0x15,
  Q_SELECT: 0x16,
  Q_SIZE: 0x18,
  Q_MSIX: 0x1a,
  Q_ENABLE: 0x1c,
  Q_NOFF: 0x1e,
  Q_DESC_LO: 0x20,
  Q_DESC_HI: 0x24,
  Q_AVAIL_LO: 0x28,
  Q_AVAIL_HI: 0x2c,
  Q_USED_LO: 0x30,
  Q_USED_HI: 0x34,
} as const;

/** The legacy I/O registers (no MSI-X). */
export const LEGACY = {
  HOST_FEATURES: 0,
  GUEST_FEATURES: 4,
  QUEUE_PFN: 8,
  QUEUE_NUM: 12,
  QUEUE_SEL: 14,
  QUEUE_NOTIFY: 16,
  STATUS: 18,
  ISR: 19,
  CONFIG: 20,
} as const;

// ---- the board ----

export const BOARD_RAM_BYTES = 1024 * 1024;
/** Bytes of linear memory on each side of RAM that nothing may touch. */
const GUARD_BYTES = 64 * 1024;
const GUARD_PATTERN = 0xa5;
const PAGE = 4096;
export const DEVICE_SLOT = 2;

export interface VirtioBoard {
  io: IoBus;
  mmio: MmioBus;
  bus: PciBus;
  memory: GuestMemory;
  transport: VirtioPciTransport;
  /** What firmware set up for the device: BARs and IRQ. */
  setup: PciFunctionSetup;
  /** Every line the transport logged. */
  log: string[];
  /** The level of the device's ISA IRQ at the PIC's input. */
  irqLevel(): boolean;
  /** Low-to-high transitions of the device's IRQ so far. */
  irqRises(): number;
  /** Pages the memory was told are dirty, in order (a board-made memory only). */
  dirtyPages: Set<number>;
  /** Whether the linear memory around RAM is as it was made (a board-made memory only). */
  guardsIntact(): boolean;
}

export interface BoardOptions {
  /** Use this memory (e.g. a Core's) instead of a plain one with guard bands. */
  memory?: GuestMemory;
  slot?: number;
}

function guardedMemory(dirty: Set<number>): { memory: GuestMemory; intact: () => boolean } {
  const total = GUARD_BYTES + BOARD_RAM_BYTES + GUARD_BYTES;
  const wasm = new WebAssembly.Memory({ initial: Math.ceil(total / 65536) });
  const bytes = new Uint8Array(wasm.buffer);
  bytes.fill(GUARD_PATTERN, 0, GUARD_BYTES);
  bytes.fill(GUARD_PATTERN, GUARD_BYTES + BOARD_RAM_BYTES);
  const memory = new GuestMemory({
    memory: wasm,
    ramBase: GUARD_BYTES,
    ramBytes: BOARD_RAM_BYTES,
    markDirty(phys, length) {
      for (let page = Math.floor(phys / PAGE); page * PAGE < phys + length; page++) dirty.add(page);
    },
  });
  const intact = () => {
    const now = new Uint8Array(wasm.buffer);
    for (let i = 0; i < GUARD_BYTES; i++) if (now[i] !== GUARD_PATTERN) return false;
    for (let i = GUARD_BYTES + BOARD_RAM_BYTES; i < now.length; i++) {
      if (now[i] !== GUARD_PATTERN) return false;
    }
    return true;
  };
  return { memory, intact };
}

export function createVirtioBoard(
  model: VirtioDeviceModel,
  options: BoardOptions = {},
): VirtioBoard {
  const io = new IoBus();
  const mmio = new MmioBus();
  new DualPic().attach(io); // firmware setup programs the ELCR
  const levels = new Map<number, boolean>();
  const rises = new Map<number, number>();
  const chipset = createI440fx({
    io,
    mmio,
    isaIrq: (irq) => ({
      set(level) {
        if (level && !levels.get(irq)) rises.set(irq, (rises.get(irq) ?? 0) + 1);
        levels.set(irq, level);
      },
    }),
  });
  const dirtyPages = new Set<number>();
  const own = options.memory ? undefined : guardedMemory(dirtyPages);
  const memory = options.memory ?? own!.memory;
  const log: string[] = [];
  const transport = new VirtioPciTransport({ model, memory, log: (line) => log.push(line) });
  const slot = options.slot ?? DEVICE_SLOT;
  chipset.bus.add(transport, slot);
  const result = setupPci({ io, memory });
  const setup = result.functions.find((fn) => fn.slot === slot)!;
  const irq = setup.irq!;
  return {
    io,
    mmio,
    bus: chipset.bus,
    memory,
    transport,
    setup,
    log,
    irqLevel: () => levels.get(irq) === true,
    irqRises: () => rises.get(irq) ?? 0,
    dirtyPages,
    guardsIntact: () => own?.intact() ?? true,
  };
}

// ---- the driver ----

export interface VirtioCapability {
  /** Offset in configuration space. */
  at: number;
  capLength: number;
  cfgType: number;
  bar: number;
  offset: number;
  length: number;
  /** NOTIFY only. */
  multiplier?: number;
}

export type DriverMode = "modern" | "legacy";

/** Memory the driver hands out: rings and buffers, between the IVT area and the BIOS. */
const ALLOCATION_START = 0x10000;
const ALLOCATION_END = 0xf0000;

export class FakeVirtioDriver {
  readonly capabilities: VirtioCapability[];
  private next = ALLOCATION_START;

  constructor(
    readonly board: Pick<VirtioBoard, "io" | "mmio" | "memory" | "setup">,
    readonly mode: DriverMode,
  ) {
    this.capabilities = this.readCapabilities();
  }

  /** The same driver state on another board (after a restore there). */
  movedTo(board: Pick<VirtioBoard, "io" | "mmio" | "memory" | "setup">): FakeVirtioDriver {
    const copy = new FakeVirtioDriver(board, this.mode);
    copy.next = this.next;
    return copy;
  }

  get memory(): GuestMemory {
    return this.board.memory;
  }

  // -- configuration space --

  configRead(offset: number, size: AccessSize): number {
    this.selectConfig(offset);
    return this.board.io.read(0xcfc + (offset & 3), size);
  }

  configWrite(offset: number, size: AccessSize, value: number): void {
    this.selectConfig(offset);
    this.board.io.write(0xcfc + (offset & 3), size, value);
  }

  /** A BAR's base as software reads it from configuration space. */
  barBase(index: number): number {
    const raw = this.configRead(0x10 + 4 * index, 4);
    return (raw & 1 ? raw & ~3 : raw & ~15) >>> 0;
  }

  capability(cfgType: number): VirtioCapability {
    const cap = this.capabilities.find((c) => c.cfgType === cfgType);
    if (!cap) throw new Error(`no virtio capability of type ${cfgType}`);
    return cap;
  }

  // -- the modern structures, through the memory BAR --

  commonRead(offset: number, size: AccessSize): number {
    return this.regionRead(CAP.COMMON, offset, size);
  }

  commonWrite(offset: number, size: AccessSize, value: number): void {
    this.regionWrite(CAP.COMMON, offset, size, value);
  }

  // -- the legacy registers, through BAR0 --

  legacyRead(offset: number, size: AccessSize): number {
    return this.board.io.read(this.barBase(0) + offset, size);
  }

  legacyWrite(offset: number, size: AccessSize, value: number): void {
    this.board.io.write(this.barBase(0) + offset, size, value);
  }

  // -- through whichever interface this driver uses --

  status(): number {
    return this.mode === "modern"
      ? this.commonRead(COMMON.STATUS, 1)
      : this.legacyRead(LEGACY.STATUS, 1);
  }

  writeStatus(value: number): void {
    if (this.mode === "modern") this.commonWrite(COMMON.STATUS, 1, value);
    else this.legacyWrite(LEGACY.STATUS, 1, value);
  }

  addStatus(bits: number): void {
    this.writeStatus(this.status() | bits);
  }

  /** Writes 0 and waits for the status to read 0, as Linux does; returns whether it did. */
  reset(): boolean {
    this.writeStatus(0);
    return this.status() === 0;
  }

  /** Reads and so clears the ISR. */
  readIsr(): number {
    return this.mode === "modern" ? this.regionRead(CAP.ISR, 0, 1) : this.legacyRead(LEGACY.ISR, 1);
  }

  deviceFeatures(): bigint {
    if (this.mode === "legacy") return BigInt(this.legacyRead(LEGACY.HOST_FEATURES, 4));
    this.commonWrite(COMMON.DFSELECT, 4, 0);
    const low = this.commonRead(COMMON.DF, 4);
    this.commonWrite(COMMON.DFSELECT, 4, 1);
    const high = this.commonRead(COMMON.DF, 4);
    return (BigInt(high) << 32n) | BigInt(low);
  }

  writeDriverFeatures(features: bigint): void {
    if (this.mode === "legacy") {
      this.legacyWrite(LEGACY.GUEST_FEATURES, 4, Number(features & 0xffffffffn));
      return;
    }
    this.commonWrite(COMMON.GFSELECT, 4, 0);
    this.commonWrite(COMMON.GF, 4, Number(features & 0xffffffffn));
    this.commonWrite(COMMON.GFSELECT, 4, 1);
    this.commonWrite(COMMON.GF, 4, Number((features >> 32n) & 0xffffffffn));
  }

  /**
   * Reset, ACKNOWLEDGE, DRIVER, then accept `wanted` (only what is offered,
   * unless `force`) and, on the modern interface, ask for FEATURES_OK.
   * Returns the features in force, or undefined when FEATURES_OK was refused.
   */
  negotiate(wanted: bigint, options: { force?: boolean } = {}): bigint | undefined {
    this.reset();
    this.addStatus(STATUS.ACKNOWLEDGE);
    this.addStatus(STATUS.DRIVER);
    const offered = this.deviceFeatures();
    const accepted = options.force ? wanted : wanted & offered;
    this.writeDriverFeatures(accepted);
    if (this.mode === "legacy") return accepted;
    this.addStatus(STATUS.FEATURES_OK);
    return this.status() & STATUS.FEATURES_OK ? accepted : undefined;
  }

  driverOk(): void {
    this.addStatus(STATUS.DRIVER_OK);
  }

  /** The whole Linux probe: negotiate, set up `queues` queues, DRIVER_OK. */
  init(wanted: bigint, queueCount: number, options: { size?: number } = {}): DriverQueue[] {
    const features = this.negotiate(wanted);
    if (features === undefined) throw new Error("FEATURES_OK refused");
    const queues = Array.from({ length: queueCount }, (_, index) =>
      this.setupQueue(index, features, options),
    );
    this.driverOk();
    return queues;
  }

  /** Lays out and programs queue `index` (modern: enables it too). */
  setupQueue(index: number, features: bigint, options: { size?: number; enable?: boolean } = {}) {
    if (this.mode === "legacy") {
      this.legacyWrite(LEGACY.QUEUE_SEL, 2, index);
      const size = this.legacyRead(LEGACY.QUEUE_NUM, 2);
      if (size === 0) throw new Error(`queue ${index} does not exist`);
      if (this.legacyRead(LEGACY.QUEUE_PFN, 4) !== 0) throw new Error(`queue ${index} is in use`);
      const layout = legacyLayout(size);
      const base = this.allocate(layout.bytes, PAGE);
      this.legacyWrite(LEGACY.QUEUE_PFN, 4, base / PAGE);
      return new DriverQueue(this, index, size, features, {
        desc: base,
        avail: base + layout.avail,
        used: base + layout.used,
      });
    }
    this.commonWrite(COMMON.Q_SELECT, 2, index);
    let size = this.commonRead(COMMON.Q_SIZE, 2);
    if (size === 0) throw new Error(`queue ${index} does not exist`);
    if (this.commonRead(COMMON.Q_ENABLE, 2) !== 0) throw new Error(`queue ${index} is in use`);
    if (options.size !== undefined) {
      this.commonWrite(COMMON.Q_SIZE, 2, options.size);
      size = this.commonRead(COMMON.Q_SIZE, 2);
    }
    const desc = this.allocate(16 * size, PAGE);
    const avail = this.allocate(6 + 2 * size, 2);
    const used = this.allocate(6 + 8 * size, 64);
    const queue = new DriverQueue(this, index, size, features, { desc, avail, used });
    queue.program();
    if (options.enable ?? true) this.commonWrite(COMMON.Q_ENABLE, 2, 1);
    return queue;
  }

  /** Zeroed guest memory, never reused. */
  allocate(bytes: number, alignment = 16): number {
    const start = Math.ceil(this.next / alignment) * alignment;
    if (start + bytes > ALLOCATION_END) throw new Error("the fake driver ran out of memory");
    this.next = start + bytes;
    this.memory.fill(start, bytes, 0);
    return start;
  }

  deviceConfigRead(offset: number, size: AccessSize): number {
    if (this.mode === "legacy") return this.legacyRead(LEGACY.CONFIG + offset, size);
    return this.regionRead(CAP.DEVICE, offset, size);
  }

  deviceConfigWrite(offset: number, size: AccessSize, value: number): void {
    if (this.mode === "legacy") this.legacyWrite(LEGACY.CONFIG + offset, size, value);
    else this.regionWrite(CAP.DEVICE, offset, size, value);
  }

  generation(): number {
    return this.commonRead(COMMON.GENERATION, 1);
  }

  /** Notifies queue `index` the way this driver's interface does. */
  notify(index: number): void {
    if (this.mode === "legacy") {
      this.legacyWrite(LEGACY.QUEUE_NOTIFY, 2, index);
      return;
    }
    this.commonWrite(COMMON.Q_SELECT, 2, index);
    const offset = this.commonRead(COMMON.Q_NOFF, 2);
    const cap = this.capability(CAP.NOTIFY);
    this.board.mmio.write(this.barBase(cap.bar) + cap.offset + offset * cap.multiplier!, 2, index);
  }

  /** A BAR access through the VIRTIO_PCI_CAP_PCI_CFG window in configuration space. */
  windowRead(bar: number, offset: number, length: AccessSize): number {
    const cap = this.capability(CAP.PCI_CFG);
    this.programWindow(cap, bar, offset, length);
    return this.configRead(cap.at + 16, 4) & (length === 4 ? 0xffffffff : (1 << (8 * length)) - 1);
  }

  windowWrite(bar: number, offset: number, length: AccessSize, value: number): void {
    const cap = this.capability(CAP.PCI_CFG);
    this.programWindow(cap, bar, offset, length);
    this.configWrite(cap.at + 16, 4, value);
  }

  private programWindow(cap: VirtioCapability, bar: number, offset: number, length: number): void {
    this.configWrite(cap.at + 4, 1, bar);
    this.configWrite(cap.at + 8, 4, offset);
    this.configWrite(cap.at + 12, 4, length);
  }

  private regionRead(cfgType: number, offset: number, size: AccessSize): number {
    const cap = this.capability(cfgType);
    return this.board.mmio.read(this.barBase(cap.bar) + cap.offset + offset, size);
  }

  private regionWrite(cfgType: number, offset: number, size: AccessSize, value: number): void {
    const cap = this.capability(cfgType);
    this.board.mmio.write(this.barBase(cap.bar) + cap.offset + offset, size, value);
  }

  private selectConfig(offset: number): void {
    const slot = this.board.setup.slot;
    this.board.io.write(0xcf8, 4, (0x80000000 | (slot << 11) | (offset & 0xfc)) >>> 0);
  }

  // Walks the capability list for vendor-specific (0x09) entries, as virtio_pci_find_capability does.
  private readCapabilities(): VirtioCapability[] {
    const found: VirtioCapability[] = [];
    if (!(this.configRead(0x06, 2) & 0x10)) return found;
    let at = this.configRead(0x34, 1) & 0xfc;
    for (let guard = 0; at !== 0 && guard < 48; guard++) {
      if (this.configRead(at, 1) === 0x09) {
        const cap: VirtioCapability = {
          at,
          capLength: this.configRead(at + 2, 1),
          cfgType: this.configRead(at + 3, 1),
          bar: this.configRead(at + 4, 1),
          offset: this.configRead(at + 8, 4),
          length: this.configRead(at + 12, 4),
        };
        if (cap.cfgType === CAP.NOTIFY) cap.multiplier = this.configRead(at + 16, 4);
        found.push(cap);
      }
      at = this.configRead(at + 1, 1) & 0xfc;
    }
    return found;
  }
}

/** The legacy ring layout for `size` entries: offsets from the queue's page. */
export function legacyLayout(size: number): { avail: number; used: number; bytes: number } {
  const avail = 16 * size;
  const used = Math.ceil((avail + 6 + 2 * size) / PAGE) * PAGE;
  return { avail, used, bytes: used + 6 + 8 * size };
}

/** vring_need_event, written from the specification's description. */
export function needEvent(eventIdx: number, newIdx: number, oldIdx: number): boolean {
  return ((newIdx - eventIdx - 1) & 0xffff) < ((newIdx - oldIdx) & 0xffff);
}

export interface RingAddresses {
  desc: number;
  avail: number;
  used: number;
}

export interface UsedBuffer {
  id: number;
  len: number;
  /** The first `len` bytes of the chain's writable buffers, concatenated. */
  written: Uint8Array;
}

export interface RawDescriptor {
  addr: number;
  /** Bits 32-63 of the address. */
  addrHigh?: number;
  len: number;
  flags: number;
  next: number;
}

interface InFlight {
  descriptors: number[];
  writable: Array<{ addr: number; len: number }>;
}

export interface PostOptions {
  /** Device-readable buffers, in order. */
  out?: Uint8Array[];
  /** Sizes of device-writable buffers, in order. */
  in?: number[];
  /** Put the chain in an indirect table (one ring descriptor). */
  indirect?: boolean;
  /** Alignment of each buffer (16 by default; 4096 puts each on its own page). */
  align?: number;
}

export class DriverQueue {
  private free: number[];
  private availShadow = 0;
  private kickedAt = 0;
  private lastUsed = 0;
  private readonly inFlight = new Map<number, InFlight>();
  /** Like Linux with callbacks enabled: after reaping, ask for the next interrupt. */
  rearm = true;

  constructor(
    readonly driver: FakeVirtioDriver,
    readonly index: number,
    readonly size: number,
    readonly features: bigint,
    readonly rings: RingAddresses,
  ) {
    this.free = Array.from({ length: size }, (_, i) => i);
  }

  get eventIdx(): boolean {
    return (this.features & F_EVENT_IDX) !== 0n;
  }

  private get memory(): GuestMemory {
    return this.driver.memory;
  }

  /** The same queue for a driver moved to another board. */
  movedTo(driver: FakeVirtioDriver): DriverQueue {
    const copy = new DriverQueue(driver, this.index, this.size, this.features, this.rings);
    copy.free = [...this.free];
    copy.availShadow = this.availShadow;
    copy.kickedAt = this.kickedAt;
    copy.lastUsed = this.lastUsed;
    for (const [head, entry] of this.inFlight) copy.inFlight.set(head, entry);
    copy.rearm = this.rearm;
    return copy;
  }

  /** Writes the ring addresses of the selected queue (modern). */
  program(): void {
    const d = this.driver;
    d.commonWrite(COMMON.Q_SELECT, 2, this.index);
    d.commonWrite(COMMON.Q_DESC_LO, 4, this.rings.desc);
    d.commonWrite(COMMON.Q_DESC_HI, 4, 0);
    d.commonWrite(COMMON.Q_AVAIL_LO, 4, this.rings.avail);
    d.commonWrite(COMMON.Q_AVAIL_HI, 4, 0);
    d.commonWrite(COMMON.Q_USED_LO, 4, this.rings.used);
    d.commonWrite(COMMON.Q_USED_HI, 4, 0);
  }

  /** Builds a chain from fresh buffers, makes it available and returns its head. */
  post(options: PostOptions): number {
    const out = options.out ?? [];
    const ins = options.in ?? [];
    const pieces: RawDescriptor[] = [];
    const writable: Array<{ addr: number; len: number }> = [];
    const align = options.align ?? 16;
    for (const data of out) {
      const addr = this.driver.allocate(Math.max(1, data.length), align);
      this.memory.write(addr, data);
      pieces.push({ addr, len: data.length, flags: 0, next: 0 });
    }
    for (const len of ins) {
      const addr = this.driver.allocate(Math.max(1, len), align);
      pieces.push({ addr, len, flags: DESC_WRITE, next: 0 });
      writable.push({ addr, len });
    }
    let descriptors: number[];
    if (options.indirect) {
      const table = this.driver.allocate(16 * pieces.length, 16);
      pieces.forEach((piece, i) => {
        const last = i === pieces.length - 1;
        this.writeDescriptorAt(table + 16 * i, {
          ...piece,
          flags: piece.flags | (last ? 0 : DESC_NEXT),
          next: last ? 0 : i + 1,
        });
      });
      descriptors = this.take(1);
      this.writeDescriptor(descriptors[0]!, {
        addr: table,
        len: 16 * pieces.length,
        flags: DESC_INDIRECT,
        next: 0,
      });
    } else {
      descriptors = this.take(pieces.length);
      pieces.forEach((piece, i) => {
        const last = i === pieces.length - 1;
        this.writeDescriptor(descriptors[i]!, {
          ...piece,
          flags: piece.flags | (last ? 0 : DESC_NEXT),
          next: last ? 0 : descriptors[i + 1]!,
        });
      });
    }
    const head = descriptors[0]!;
    this.inFlight.set(head, { descriptors, writable });
    this.publish(head);
    return head;
  }

  /** Puts `head` in the next available slot, then moves the index past it. */
  publish(head: number): void {
    this.memory.write16(this.rings.avail + 4 + 2 * (this.availShadow % this.size), head);
    this.availShadow = (this.availShadow + 1) & 0xffff;
    this.memory.write16(this.rings.avail + 2, this.availShadow);
  }

  /** Notifies if the device asked for it (avail_event, or no VIRTQ_USED_F_NO_NOTIFY). */
  kick(): boolean {
    const now = this.availShadow;
    const old = this.kickedAt;
    this.kickedAt = now;
    const wanted = this.eventIdx
      ? needEvent(this.availEvent(), now, old)
      : (this.memory.read16(this.rings.used) & USED_NO_NOTIFY) === 0;
    if (wanted) this.driver.notify(this.index);
    return wanted;
  }

  notify(): void {
    this.kickedAt = this.availShadow;
    this.driver.notify(this.index);
  }

  usedIdx(): number {
    return this.memory.read16(this.rings.used + 2);
  }

  availEvent(): number {
    return this.memory.read16(this.rings.used + 4 + 8 * this.size);
  }

  /** Reaps the used ring: what the device returned since the last call, oldest first. */
  takeUsed(): UsedBuffer[] {
    const done: UsedBuffer[] = [];
    const usedIdx = this.usedIdx();
    while (this.lastUsed !== usedIdx) {
      const element = this.rings.used + 4 + 8 * (this.lastUsed % this.size);
      const id = this.memory.read32(element);
      const len = this.memory.read32(element + 4);
      this.lastUsed = (this.lastUsed + 1) & 0xffff;
      const entry = this.inFlight.get(id);
      if (!entry) throw new Error(`queue ${this.index}: the device returned unknown id ${id}`);
      this.inFlight.delete(id);
      this.free.push(...entry.descriptors);
      const written = new Uint8Array(len);
      let filled = 0;
      for (const buffer of entry.writable) {
        if (filled >= len) break;
        const bytes = Math.min(buffer.len, len - filled);
        written.set(this.memory.read(buffer.addr, bytes), filled);
        filled += bytes;
      }
      done.push({ id, len, written });
    }
    if (this.rearm && this.eventIdx) this.setUsedEvent(this.lastUsed);
    return done;
  }

  /** Interrupt when the used index passes this (EVENT_IDX). */
  setUsedEvent(value: number): void {
    this.memory.write16(this.rings.avail + 4 + 2 * this.size, value);
  }

  /** VIRTQ_AVAIL_F_NO_INTERRUPT (without EVENT_IDX). */
  setNoInterrupt(on: boolean): void {
    this.memory.write16(this.rings.avail, on ? AVAIL_NO_INTERRUPT : 0);
  }

  /** Both sides' indices at `index`, as after that many buffers went round (tests of the wrap). */
  jumpTo(index: number): void {
    this.availShadow = this.kickedAt = this.lastUsed = index & 0xffff;
    this.memory.write16(this.rings.avail + 2, this.availShadow);
    this.memory.write16(this.rings.used + 2, this.availShadow);
    this.memory.write16(this.rings.used + 4 + 8 * this.size, this.availShadow);
    this.setUsedEvent(this.availShadow);
  }

  // -- raw access for misbehaving on purpose --

  writeDescriptor(index: number, descriptor: RawDescriptor): void {
    this.writeDescriptorAt(this.rings.desc + 16 * index, descriptor);
  }

  writeDescriptorAt(address: number, descriptor: RawDescriptor): void {
    this.memory.write32(address, descriptor.addr);
    this.memory.write32(address + 4, descriptor.addrHigh ?? 0);
    this.memory.write32(address + 8, descriptor.len);
    this.memory.write16(address + 12, descriptor.flags);
    this.memory.write16(address + 14, descriptor.next);
  }

  /** Sets the available index directly (without filling entries). */
  setAvailIdx(value: number): void {
    this.availShadow = value & 0xffff;
    this.memory.write16(this.rings.avail + 2, this.availShadow);
  }

  private take(count: number): number[] {
    if (count > this.free.length) throw new Error(`queue ${this.index}: out of descriptors`);
    return this.free.splice(0, count);
  }
}
