// One PCI function: the type-0 configuration header with per-byte write
// masks, its BARs, a capability list and its INTx pin. Subclasses define their
// BARs and capabilities in their constructor, before the function joins a bus,
// and add device-specific registers through the protected hooks.
import type { AccessSize } from "../../core/core-host.ts";
import {
  barTypeBits,
  barWriteMask,
  checkBarDefinition,
  isDecodable,
  type BarDefinition,
  type BarWindow,
} from "./bar.ts";
import {
  BAR_COUNT,
  COMMAND_BUS_MASTER,
  COMMAND_INTX_DISABLE,
  COMMAND_IO,
  COMMAND_MEMORY,
  COMMAND_PARITY_RESPONSE,
  COMMAND_SERR,
  CONFIG_SPACE_SIZE,
  DEVICE_SPECIFIC_START,
  HEADER_TYPE_MULTI_FUNCTION,
  INTERRUPT_PIN_COUNT,
  REG_BAR0,
  REG_CACHE_LINE_SIZE,
  REG_CAPABILITIES,
  REG_CLASS_CODE,
  REG_COMMAND,
  REG_DEVICE_ID,
  REG_HEADER_TYPE,
  REG_INTERRUPT_LINE,
  REG_INTERRUPT_PIN,
  REG_LATENCY_TIMER,
  REG_REVISION,
  REG_STATUS,
  REG_SUBSYSTEM_ID,
  REG_SUBSYSTEM_VENDOR_ID,
  REG_VENDOR_ID,
  STATUS_CAPABILITIES,
  STATUS_DEVSEL_MEDIUM,
  STATUS_ERRORS,
  STATUS_INTERRUPT,
} from "./config-header.ts";
import type { PciFunctionState } from "./state.ts";

export interface PciIdentity {
  vendorId: number;
  deviceId: number;
  /** (base class << 16) | (subclass << 8) | programming interface. */
  classCode: number;
  revision?: number;
  subsystemVendorId?: number;
  subsystemId?: number;
  /** Sets header type bit 7, so software probes functions 1-7 of the slot. */
  multiFunction?: boolean;
  /** 0 = no interrupt, 1..4 = INTA#..INTD#. */
  interruptPin?: number;
  /** Used in error messages. */
  name?: string;
}

/** What a function needs from the bus it sits on. */
export interface PciBusLink {
  /** A BAR or a decode-enable bit changed: the bus maps windows again. */
  decodingChanged(): void;
  /** The function's INTx output changed (already gated by INTx disable). */
  intxChanged(slot: number, pin: number, level: boolean): void;
}

const COMMAND_WRITABLE =
  COMMAND_IO |
  COMMAND_MEMORY |
  COMMAND_BUS_MASTER |
  COMMAND_PARITY_RESPONSE |
  COMMAND_SERR |
  COMMAND_INTX_DISABLE;
const BARS_END = REG_BAR0 + 4 * BAR_COUNT;

function hex(value: number, digits = 2): string {
  return "0x" + value.toString(16).padStart(digits, "0");
}

function checkField(value: number, max: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`${what} must be an integer in [0, ${hex(max)}], got ${value}`);
  }
  return value;
}

function overlaps(offset: number, size: number, start: number, end: number): boolean {
  return offset < end && start < offset + size;
}

export class PciDevice {
  readonly name: string;
  readonly interruptPin: number;

  // Configuration space and, per byte, which bits guest writes set (writeMask),
  // which a written 1 clears (clearMask) and which the device changes itself
  // (deviceMask). Every other bit is fixed, which restore relies on.
  private readonly config = new Uint8Array(CONFIG_SPACE_SIZE);
  private readonly writeMask = new Uint8Array(CONFIG_SPACE_SIZE);
  private readonly clearMask = new Uint8Array(CONFIG_SPACE_SIZE);
  private readonly deviceMask = new Uint8Array(CONFIG_SPACE_SIZE);
  private readonly bars: Array<BarDefinition | undefined> = new Array(BAR_COUNT);
  private nextCapability = DEVICE_SPECIFIC_START;
  private lastCapability = 0;
  private powerOnConfig: Uint8Array | undefined;
  private link: PciBusLink | undefined;
  private slot = 0;
  private fn = 0;
  private output = false;

  constructor(identity: PciIdentity) {
    const vendorId = checkField(identity.vendorId, 0xfffe, "vendorId");
    this.name = identity.name ?? `PCI ${hex(vendorId, 4)}:${hex(identity.deviceId, 4)}`;
    this.interruptPin = checkField(identity.interruptPin ?? 0, INTERRUPT_PIN_COUNT, "interruptPin");
    this.writeRaw(REG_VENDOR_ID, 2, vendorId);
    this.writeRaw(REG_DEVICE_ID, 2, checkField(identity.deviceId, 0xffff, "deviceId"));
    this.writeRaw(REG_REVISION, 1, checkField(identity.revision ?? 0, 0xff, "revision"));
    this.writeRaw(REG_CLASS_CODE, 3, checkField(identity.classCode, 0xffffff, "classCode"));
    this.writeRaw(REG_HEADER_TYPE, 1, identity.multiFunction ? HEADER_TYPE_MULTI_FUNCTION : 0);
    this.writeRaw(
      REG_SUBSYSTEM_VENDOR_ID,
      2,
      checkField(identity.subsystemVendorId ?? 0, 0xffff, "subsystemVendorId"),
    );
    this.writeRaw(
      REG_SUBSYSTEM_ID,
      2,
      checkField(identity.subsystemId ?? 0, 0xffff, "subsystemId"),
    );
    this.writeRaw(REG_INTERRUPT_PIN, 1, this.interruptPin);
    this.writeRaw(REG_STATUS, 2, STATUS_DEVSEL_MEDIUM);

    this.setWritable(REG_COMMAND, 2, COMMAND_WRITABLE);
    this.setWriteOneToClear(REG_STATUS, 2, STATUS_ERRORS);
    if (this.interruptPin !== 0) this.setDeviceOwned(REG_STATUS, 2, STATUS_INTERRUPT);
    this.setWritable(REG_CACHE_LINE_SIZE, 1, 0xff);
    this.setWritable(REG_LATENCY_TIMER, 1, 0xf8);
    this.setWritable(REG_INTERRUPT_LINE, 1, 0xff);
  }

  get vendorId(): number {
    return this.readRaw(REG_VENDOR_ID, 2);
  }

  get deviceId(): number {
    return this.readRaw(REG_DEVICE_ID, 2);
  }

  get multiFunction(): boolean {
    return (this.config[REG_HEADER_TYPE]! & HEADER_TYPE_MULTI_FUNCTION) !== 0;
  }

  get command(): number {
    return this.readRaw(REG_COMMAND, 2);
  }

  get interruptLine(): number {
    return this.config[REG_INTERRUPT_LINE]!;
  }

  /** The level the device asks for on its INTx pin (status bit 3). */
  get intxRequested(): boolean {
    return (this.readRaw(REG_STATUS, 2) & STATUS_INTERRUPT) !== 0;
  }

  /** The level on the wire: the request unless INTx disable masks it. */
  get intxOutput(): boolean {
    return this.output;
  }

  /** "00:01.0" once on a bus. */
  get location(): string {
    return `00:${this.slot.toString(16).padStart(2, "0")}.${this.fn}`;
  }

  /** The address a BAR holds (type bits stripped), or undefined if the BAR is not implemented. */
  barAddress(index: number): number | undefined {
    const bar = this.bars[index];
    if (!bar) return undefined;
    return (this.readRaw(REG_BAR0 + 4 * index, 4) & barWriteMask(bar)) >>> 0;
  }

  /** The windows this function decodes now: assigned BARs whose decode-enable bit is set. */
  decodedWindows(): BarWindow[] {
    const command = this.command;
    const windows: BarWindow[] = [];
    this.bars.forEach((bar, index) => {
      if (!bar) return;
      if (!(command & (bar.kind === "io" ? COMMAND_IO : COMMAND_MEMORY))) return;
      const base = this.barAddress(index)!;
      if (!isDecodable(bar.kind, base, bar.size)) return;
      windows.push({ index, kind: bar.kind, base, size: bar.size, handler: bar.handler });
    });
    return windows;
  }

  /** A configuration read by software (little-endian, any offset and size inside the space). */
  readConfig(offset: number, size: AccessSize): number {
    this.checkAccess(offset, size);
    this.beforeConfigRead?.(offset, size);
    return this.readRaw(offset, size);
  }

  /** A configuration write by software, merged through the write masks. */
  writeConfig(offset: number, size: AccessSize, value: number): void {
    this.checkAccess(offset, size);
    for (let i = 0; i < size; i++) {
      const at = offset + i;
      const byte = (value >>> (8 * i)) & 0xff;
      const mask = this.writeMask[at]!;
      this.config[at] =
        ((this.config[at]! & ~mask) | (byte & mask)) & ~(byte & this.clearMask[at]!);
    }
    const touchesCommand = overlaps(offset, size, REG_COMMAND, REG_COMMAND + 2);
    if (touchesCommand) this.updateIntxOutput();
    if (touchesCommand || overlaps(offset, size, REG_BAR0, BARS_END)) this.link?.decodingChanged();
    this.afterConfigWrite?.(offset, size);
  }

  /** The device raises (true) or drops (false) its INTx request. */
  setIntx(level: boolean): void {
    if (this.interruptPin === 0) throw new Error(`${this.name} has no interrupt pin`);
    const status = this.readRaw(REG_STATUS, 2);
    this.writeRaw(REG_STATUS, 2, level ? status | STATUS_INTERRUPT : status & ~STATUS_INTERRUPT);
    this.updateIntxOutput();
  }

  // ---- Used by the bus ----

  /** Called by PciBus.add; the configuration at this point is the power-on state. */
  attachToBus(link: PciBusLink, slot: number, fn: number): void {
    if (this.link) throw new Error(`${this.name} is already on a bus at ${this.location}`);
    this.link = link;
    this.slot = slot;
    this.fn = fn;
    this.powerOnConfig = this.config.slice();
  }

  /** Recomputes the INTx output after a restore or reset, without notifying the bus. */
  resyncIntxOutput(): boolean {
    this.output = this.intxRequested && !(this.command & COMMAND_INTX_DISABLE);
    return this.output;
  }

  /** Back to the power-on configuration (a PCI reset). The bus then maps and routes again. */
  resetToPowerOn(): void {
    if (this.powerOnConfig) this.config.set(this.powerOnConfig);
    this.onReset();
  }

  save(): PciFunctionState {
    const state: PciFunctionState = {
      slot: this.slot,
      function: this.fn,
      config: Array.from(this.config),
    };
    const device = this.saveDeviceState();
    if (device !== undefined) state.device = device;
    return state;
  }

  /**
   * Checks a saved function state without changing anything and returns what
   * applies it. Fixed bits (IDs, class, BAR types and sizes, capabilities)
   * must match this function: a state for another device is refused.
   */
  prepareRestore(state: PciFunctionState, what: string): () => void {
    const config = state.config;
    for (let at = 0; at < CONFIG_SPACE_SIZE; at++) {
      const fixed = ~(this.writeMask[at]! | this.clearMask[at]! | this.deviceMask[at]!) & 0xff;
      if ((config[at]! ^ this.config[at]!) & fixed) {
        throw new RangeError(
          `${what}.config[${hex(at)}] = ${hex(config[at]!)} does not fit ${this.name} ` +
            `(fixed bits ${hex(fixed)} must be ${hex(this.config[at]! & fixed)})`,
        );
      }
    }
    const applyDevice = this.prepareDeviceState(state.device, `${what}.device`);
    return () => {
      this.config.set(config);
      applyDevice();
    };
  }

  // ---- For subclasses ----

  /** Called before software reads [offset, offset + size), so dynamic registers can update. */
  protected beforeConfigRead?(offset: number, size: AccessSize): void;

  /** Called after a software write to [offset, offset + size) was merged. */
  protected afterConfigWrite?(offset: number, size: AccessSize): void;

  /** Device-specific state outside configuration space (JSON-friendly), or undefined. */
  protected saveDeviceState(): unknown {
    return undefined;
  }

  /** Validates saved device-specific state and returns what applies it; must not change anything. */
  protected prepareDeviceState(value: unknown, what: string): () => void {
    if (value !== undefined) throw new TypeError(`${what} must be absent for ${this.name}`);
    return () => {};
  }

  /** Device-specific part of a reset. */
  protected onReset(): void {}

  /** Reads configuration bytes as they are, little-endian. */
  protected readRaw(offset: number, size: number): number {
    let value = 0;
    for (let i = 0; i < size; i++) value |= this.config[offset + i]! << (8 * i);
    return value >>> 0;
  }

  /**
   * Sets configuration bytes regardless of the masks. Bits that change after
   * the function joins a bus must be writable or marked device-owned.
   */
  protected writeRaw(offset: number, size: number, value: number): void {
    for (let i = 0; i < size; i++) this.config[offset + i] = (value >>> (8 * i)) & 0xff;
  }

  protected setWritable(offset: number, size: number, mask: number): void {
    this.setMask(this.writeMask, offset, size, mask);
  }

  protected setWriteOneToClear(offset: number, size: number, mask: number): void {
    this.setMask(this.clearMask, offset, size, mask);
  }

  protected setDeviceOwned(offset: number, size: number, mask: number): void {
    this.setMask(this.deviceMask, offset, size, mask);
  }

  /** Implements BAR `index` (0-5); its size and type become fixed bits. */
  protected defineBar(index: number, bar: BarDefinition): void {
    this.checkNotAttached("a BAR");
    checkField(index, BAR_COUNT - 1, `${this.name}: BAR index`);
    if (this.bars[index]) throw new Error(`${this.name}: BAR ${index} is already defined`);
    checkBarDefinition(bar, `${this.name} BAR ${index}`);
    this.bars[index] = { ...bar };
    const offset = REG_BAR0 + 4 * index;
    this.writeRaw(offset, 4, barTypeBits(bar));
    this.setWritable(offset, 4, barWriteMask(bar));
  }

  /**
   * Appends a capability of `length` bytes (ID and next pointer included) to
   * the list, dword-aligned from 0x40. Returns its offset; the body is the
   * caller's to fill with writeRaw and masks.
   */
  protected addCapability(id: number, length: number): number {
    this.checkNotAttached("a capability");
    checkField(id, 0xff, `${this.name}: capability ID`);
    const offset = this.nextCapability;
    if (!Number.isInteger(length) || length < 2 || offset + length > CONFIG_SPACE_SIZE) {
      throw new RangeError(
        `${this.name}: no room for a ${length}-byte capability at ${hex(offset)}`,
      );
    }
    this.config[offset] = id;
    this.config[offset + 1] = 0;
    if (this.lastCapability === 0) this.config[REG_CAPABILITIES] = offset;
    else this.config[this.lastCapability + 1] = offset;
    this.writeRaw(REG_STATUS, 2, this.readRaw(REG_STATUS, 2) | STATUS_CAPABILITIES);
    this.lastCapability = offset;
    this.nextCapability = (offset + length + 3) & ~3;
    return offset;
  }

  // ---- Internals ----

  private updateIntxOutput(): void {
    const before = this.output;
    if (this.resyncIntxOutput() !== before) {
      this.link?.intxChanged(this.slot, this.interruptPin, this.output);
    }
  }

  private setMask(masks: Uint8Array, offset: number, size: number, mask: number): void {
    for (let i = 0; i < size; i++) masks[offset + i] = (mask >>> (8 * i)) & 0xff;
  }

  private checkAccess(offset: number, size: number): void {
    if (
      !Number.isInteger(offset) ||
      offset < 0 ||
      offset + size > CONFIG_SPACE_SIZE ||
      (size !== 1 && size !== 2 && size !== 4)
    ) {
      throw new RangeError(`${this.name}: configuration access ${offset}+${size} is out of range`);
    }
  }

  private checkNotAttached(what: string): void {
    if (this.link) throw new Error(`${this.name}: ${what} must be defined before joining the bus`);
  }
}
