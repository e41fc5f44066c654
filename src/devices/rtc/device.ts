// Motorola MC146818A real-time clock and its battery-backed CMOS RAM, as on
// PCs: index/data at 0x70/0x71 (bit 7 of the index masks NMI), IRQ8, and the
// chipset's second 128-byte bank at 0x72/0x73. Time is the host's wall clock
// at construction plus the machine-clock time elapsed since, so the clock of
// a paused machine stands still. Events are worked out when they are due:
// on a port access (from clock.now()) or when the run loop calls advance().
import type { MachineClock, TimedDevice } from "../../platform/clock.ts";
import type { IoBus } from "../../platform/io-bus.ts";
import type { Stateful } from "../../platform/stateful.ts";
import { byteRegisterPorts } from "../byte-ports.ts";
import { UNCONNECTED, type IrqLine } from "../irq.ts";
import {
  CHECKSUM_FIRST,
  CHECKSUM_LAST,
  CMOS_CHECKSUM,
  CMOS_EQUIPMENT,
  cmosChecksum,
  equipmentByte,
  memorySizeBytes,
  type Equipment,
} from "./cmos-layout.ts";
import {
  A_UIP,
  B_AIE,
  B_PIE,
  B_SET,
  B_UIE,
  C_AF,
  C_FLAGS,
  C_IRQF,
  C_PF,
  C_UF,
  CMOS_BANK_SIZE,
  D_VRT,
  dividerMode,
  periodicIntervalNs,
  rateSelect,
  REG_A,
  REG_A_DEFAULT,
  REG_B,
  REG_B_DEFAULT,
  REG_C,
  REG_CENTURY,
  REG_D,
  TIME_REGISTERS,
} from "./registers.ts";
import { parseRtcState, RTC_STATE_VERSION, TIME_SECONDS_LIMIT, type RtcState } from "./state.ts";
import {
  clockFormat,
  readTimeRegisters,
  sameFormat,
  secondsUntilAlarm,
  writeTimeRegisters,
  type ClockFormat,
} from "./time-registers.ts";

export const RTC_PORT = 0x70;
export const RTC_IRQ = 8;
/** 0x70/0x71 for the standard bank, 0x72/0x73 for the extended one. */
const PORT_COUNT = 4;
const INDEX_MASK = 0x7f;
const NMI_DISABLE = 0x80;
/** Below this the standard bank holds the clock registers, not RAM. */
const FIRST_RAM_BYTE = 0x0e;

const NS_PER_SECOND = 1e9;
const NS_PER_MS = 1e6;
/** UIP rises 244 µs (8 cycles of the 32.768 kHz time base) before each update. */
const UIP_LEAD_NS = (8 * NS_PER_SECOND) / 32_768;
/** The first update comes half a second after the divider leaves reset. */
const RESET_TO_UPDATE_NS = NS_PER_SECOND / 2;

export interface CmosRtcOptions {
  clock: MachineClock;
  /** IRQ8; it follows REG C's IRQF. */
  irq?: IrqLine;
  /** The host's wall time in epoch milliseconds; the RTC starts from it (UTC). */
  wallTimeMs?: () => number;
}

export class CmosRtc implements TimedDevice, Stateful<RtcState> {
  readonly stateId = "rtc";
  private readonly clock: MachineClock;
  private readonly irq: IrqLine;
  private readonly wallTimeMs: () => number;

  private readonly ram = new Uint8Array(CMOS_BANK_SIZE);
  private readonly extendedRam = new Uint8Array(CMOS_BANK_SIZE);
  private index = 0;
  private extendedIndex = 0;
  // While the clock counts (divider running, SET clear) these are the time;
  // otherwise the time registers in `ram` are.
  private timeSeconds = 0;
  private weekdayOffset = 0;
  private nextUpdateNs = 0;
  private heldUntilUpdateNs = RESET_TO_UPDATE_NS;
  private nextPeriodicNs: number | null = null;
  private irqLevel = false;

  constructor(options: CmosRtcOptions) {
    this.clock = options.clock;
    this.irq = options.irq ?? UNCONNECTED;
    this.wallTimeMs = options.wallTimeMs ?? Date.now;
    this.ram[REG_A] = REG_A_DEFAULT;
    this.ram[REG_B] = REG_B_DEFAULT;
    this.ram[REG_D] = D_VRT;
    this.setTime(this.wallTimeMs(), this.clock.now());
  }

  attach(io: IoBus, base = RTC_PORT): void {
    io.register(base, PORT_COUNT, byteRegisterPorts(base, PORT_COUNT, this));
  }

  /** Bit 7 of the last index written to port 0x70. */
  get nmiDisabled(): boolean {
    return (this.index & NMI_DISABLE) !== 0;
  }

  /** The level of the IRQ8 output (REG C's IRQF). */
  get interruptRequested(): boolean {
    return this.irqLevel;
  }

  /** Sets the clock to `epochMs` (UTC), sub-second phase included: for resyncing with the host. */
  setTimeMs(epochMs: number): void {
    const now = this.clock.now();
    this.runUntil(now);
    this.setTime(epochMs, now);
  }

  /** Sets the clock to the host's wall time now. */
  syncToHost(): void {
    this.setTimeMs(this.wallTimeMs());
  }

  /** The time the clock shows now, in epoch milliseconds (whole seconds while it is stopped). */
  timeMs(): number {
    if (!this.counting()) return readTimeRegisters(this.ram, this.format()).seconds * 1000;
    const now = this.clock.now();
    const updates = this.updatesDueBy(now);
    const nextUpdate = this.nextUpdateNs + updates * NS_PER_SECOND;
    return (this.timeSeconds + updates + 1) * 1000 - (nextUpdate - now) / NS_PER_MS;
  }

  /**
   * Presets a RAM byte as firmware would: 0x0E-0x7F in the standard bank,
   * 0x80-0xFF for the extended bank. The clock registers and the century are
   * not RAM; use setTimeMs. Bytes under the checksum keep it valid.
   */
  setCmosByte(index: number, value: number): void {
    if (
      !Number.isInteger(index) ||
      index < FIRST_RAM_BYTE ||
      index > 0xff ||
      index === REG_CENTURY
    ) {
      throw new RangeError(`CMOS byte 0x${index.toString(16)} is not presettable RAM`);
    }
    if (!Number.isInteger(value) || value < 0 || value > 0xff) {
      throw new RangeError(`CMOS byte value must be 0-255, got ${value}`);
    }
    if (index >= CMOS_BANK_SIZE) {
      this.extendedRam[index - CMOS_BANK_SIZE] = value;
      return;
    }
    this.ram[index] = value;
    if (index >= CHECKSUM_FIRST && index <= CHECKSUM_LAST) this.updateChecksum();
  }

  /** Fills the memory-size bytes for `ramBytes` of RAM from address 0, and the checksum. */
  setMemorySize(ramBytes: number): void {
    for (const [index, value] of memorySizeBytes(ramBytes)) this.ram[index] = value;
    this.updateChecksum();
  }

  /** Fills the equipment byte (0x14) and the checksum. */
  setEquipment(equipment: Equipment): void {
    this.ram[CMOS_EQUIPMENT] = equipmentByte(equipment);
    this.updateChecksum();
  }

  readRegister(offset: number): number {
    switch (offset) {
      case 1:
        return this.readData(this.index & INDEX_MASK);
      case 3:
        return this.extendedRam[this.extendedIndex & INDEX_MASK]!;
      default:
        return 0xff; // the index registers are write-only
    }
  }

  writeRegister(offset: number, value: number): void {
    switch (offset) {
      case 0:
        this.index = value;
        break;
      case 1:
        this.writeData(this.index & INDEX_MASK, value);
        break;
      case 2:
        this.extendedIndex = value;
        break;
      case 3:
        this.extendedRam[this.extendedIndex & INDEX_MASK] = value;
        break;
    }
  }

  advance(now: number): void {
    this.runUntil(now);
  }

  nextDeadline(): number {
    // While IRQ8 is asserted nothing can make another edge until the guest
    // reads REG C, and that read brings the flags up to date itself.
    if (this.irqLevel) return Infinity;
    const regB = this.ram[REG_B]!;
    let deadline = Infinity;
    if (regB & B_PIE && this.nextPeriodicNs !== null) deadline = this.nextPeriodicNs;
    if (this.counting()) {
      if (regB & B_UIE) deadline = Math.min(deadline, this.nextUpdateNs);
      if (regB & B_AIE) {
        const wait = secondsUntilAlarm(this.ram, this.timeSeconds, this.format());
        deadline = Math.min(deadline, this.nextUpdateNs + (wait - 1) * NS_PER_SECOND);
      }
    }
    return deadline;
  }

  save(): RtcState {
    return {
      version: RTC_STATE_VERSION,
      ram: Array.from(this.ram),
      extendedRam: Array.from(this.extendedRam),
      index: this.index,
      extendedIndex: this.extendedIndex,
      timeSeconds: this.timeSeconds,
      weekdayOffset: this.weekdayOffset,
      nextUpdateNs: this.nextUpdateNs,
      heldUntilUpdateNs: this.heldUntilUpdateNs,
      nextPeriodicNs: this.nextPeriodicNs,
    };
  }

  /** Checks a saved state; what it returns replaces the device state. */
  prepareRestore(state: unknown): () => void {
    const s = parseRtcState(state);
    return () => this.apply(s);
  }

  private apply(s: RtcState): void {
    this.ram.set(s.ram);
    this.extendedRam.set(s.extendedRam);
    this.index = s.index;
    this.extendedIndex = s.extendedIndex;
    this.timeSeconds = s.timeSeconds;
    this.weekdayOffset = s.weekdayOffset;
    this.nextUpdateNs = s.nextUpdateNs;
    this.heldUntilUpdateNs = s.heldUntilUpdateNs;
    this.nextPeriodicNs = s.nextPeriodicNs;
    if (this.counting()) this.showTime();
    // Drive the line unconditionally: the PIC may have been restored separately.
    this.irqLevel = this.computeIrqf();
    this.irq.set(this.irqLevel);
  }

  // ---- registers ----

  private readData(register: number): number {
    const now = this.clock.now();
    this.runUntil(now);
    switch (register) {
      case REG_A:
        return this.ram[REG_A]! | (this.updateInProgress(now) ? A_UIP : 0);
      case REG_C: {
        const value = this.ram[REG_C]! | (this.computeIrqf() ? C_IRQF : 0);
        this.ram[REG_C] = 0; // reading REG C clears every flag and drops IRQ8
        this.updateIrq();
        return value;
      }
      default:
        return this.ram[register]!;
    }
  }

  private writeData(register: number, value: number): void {
    const now = this.clock.now();
    this.runUntil(now);
    switch (register) {
      case REG_A:
        this.writeRegisterA(value, now);
        break;
      case REG_B:
        this.writeRegisterB(value);
        break;
      case REG_C:
      case REG_D:
        break; // read-only
      default:
        this.ram[register] = value;
        // A counting clock takes the new field at once, as with SET it would
        // when SET is cleared.
        if (TIME_REGISTERS.includes(register) && this.counting()) this.takeTimeFromRegisters();
    }
  }

  private writeRegisterA(value: number, now: number): void {
    const before = this.ram[REG_A]!;
    const wasCounting = this.counting();
    const oldMode = dividerMode(before);
    this.ram[REG_A] = value & ~A_UIP;
    const mode = dividerMode(value);
    if (mode === "reset") {
      this.heldUntilUpdateNs = RESET_TO_UPDATE_NS;
    } else if (oldMode === "running" && mode === "stopped") {
      this.heldUntilUpdateNs = this.nextUpdateNs - now;
    } else if (oldMode !== "running" && mode === "running") {
      this.nextUpdateNs = now + this.heldUntilUpdateNs;
    }
    if (!wasCounting && this.counting()) this.takeTimeFromRegisters();
    if (mode !== oldMode || rateSelect(before) !== rateSelect(value)) this.restartPeriodic(now);
  }

  private writeRegisterB(value: number): void {
    const wasCounting = this.counting();
    const oldFormat = this.format();
    // Setting SET aborts updates and clears UIE (the datasheet's rule).
    this.ram[REG_B] = value & B_SET ? value & ~B_UIE : value;
    if (this.counting()) {
      if (!wasCounting) this.takeTimeFromRegisters();
      else if (!sameFormat(oldFormat, this.format())) this.showTime();
    }
    this.updateIrq();
  }

  private updateChecksum(): void {
    const checksum = cmosChecksum(this.ram);
    this.ram[CMOS_CHECKSUM] = checksum >> 8;
    this.ram[CMOS_CHECKSUM + 1] = checksum & 0xff;
  }

  // ---- time ----

  private format(): ClockFormat {
    return clockFormat(this.ram[REG_B]!);
  }

  /** The time advances on updates: the divider runs and SET is clear. */
  private counting(): boolean {
    return dividerMode(this.ram[REG_A]!) === "running" && !(this.ram[REG_B]! & B_SET);
  }

  private updateInProgress(now: number): boolean {
    return this.counting() && now >= this.nextUpdateNs - UIP_LEAD_NS;
  }

  private setTime(epochMs: number, now: number): void {
    const seconds = Math.floor(epochMs / 1000);
    if (!Number.isFinite(epochMs) || Math.abs(seconds) > TIME_SECONDS_LIMIT) {
      throw new RangeError(`RTC time must be a finite epoch time in ms, got ${epochMs}`);
    }
    const untilNextSecond = ((seconds + 1) * 1000 - epochMs) * NS_PER_MS;
    this.timeSeconds = seconds;
    this.weekdayOffset = 0;
    this.showTime();
    const mode = dividerMode(this.ram[REG_A]!);
    if (mode === "running") {
      this.nextUpdateNs = now + untilNextSecond;
      this.restartPeriodic(now);
    } else if (mode === "stopped") {
      this.heldUntilUpdateNs = untilNextSecond;
    }
    // A divider in reset keeps its half second to the first update.
  }

  private showTime(): void {
    const time = { seconds: this.timeSeconds, weekdayOffset: this.weekdayOffset };
    writeTimeRegisters(this.ram, time, this.format());
  }

  private takeTimeFromRegisters(): void {
    const time = readTimeRegisters(this.ram, this.format());
    this.timeSeconds = time.seconds;
    this.weekdayOffset = time.weekdayOffset;
    this.showTime(); // out-of-range fields read back rolled over
  }

  /** Second boundaries of the divider chain that have passed by `now` and not been counted. */
  private updatesDueBy(now: number): number {
    if (now < this.nextUpdateNs) return 0;
    return Math.floor((now - this.nextUpdateNs) / NS_PER_SECOND) + 1;
  }

  /** Sets the flags of every event due by `now`; many missed periodic edges count once. */
  private runUntil(now: number): void {
    if (dividerMode(this.ram[REG_A]!) !== "running") return;
    let flags = 0;
    const interval = periodicIntervalNs(rateSelect(this.ram[REG_A]!));
    if (this.nextPeriodicNs !== null && interval !== null && now >= this.nextPeriodicNs) {
      flags |= C_PF;
      const edges = Math.floor((now - this.nextPeriodicNs) / interval) + 1;
      this.nextPeriodicNs += edges * interval;
    }
    const updates = this.updatesDueBy(now);
    if (updates > 0) {
      this.nextUpdateNs += updates * NS_PER_SECOND;
      // With SET the divider keeps its phase but the time does not advance.
      if (!(this.ram[REG_B]! & B_SET)) {
        flags |= C_UF;
        if (secondsUntilAlarm(this.ram, this.timeSeconds, this.format()) <= updates) {
          flags |= C_AF;
        }
        this.timeSeconds += updates;
        this.showTime();
      }
    }
    if (flags !== 0) {
      this.ram[REG_C]! |= flags;
      this.updateIrq();
    }
  }

  /** Periodic edges are taps of the divider chain, so they line up with its second boundary. */
  private restartPeriodic(now: number): void {
    const interval = periodicIntervalNs(rateSelect(this.ram[REG_A]!));
    if (interval === null || dividerMode(this.ram[REG_A]!) !== "running") {
      this.nextPeriodicNs = null;
      return;
    }
    const edgesBeforeUpdate = Math.ceil((this.nextUpdateNs - now) / interval) - 1;
    this.nextPeriodicNs = this.nextUpdateNs - edgesBeforeUpdate * interval;
  }

  // ---- interrupt ----

  /** IRQF = PF·PIE + AF·AIE + UF·UIE: the flags of REG C sit under their enables in REG B. */
  private computeIrqf(): boolean {
    return (this.ram[REG_C]! & this.ram[REG_B]! & C_FLAGS) !== 0;
  }

  private updateIrq(): void {
    const level = this.computeIrqf();
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq.set(level);
    }
  }
}
