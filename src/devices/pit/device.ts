// Intel 8254 programmable interval timer as wired on a PC: three counters at
// ports 0x40-0x42 and the control word at 0x43, all clocked at 1.193182 MHz.
// Counter 0 drives IRQ0; counter 1 is the DRAM refresh timer (its OUT goes
// nowhere here); counter 2's gate and OUT live in system control port B
// (0x61), which also carries the speaker enable and the refresh toggle.
//
// Nothing runs between accesses: the counters stand at one input-clock edge
// and are carried forward in closed form to clock.now() whenever the guest
// touches a port or the run loop calls advance().
import type { MachineClock, TimedDevice } from "../../platform/clock.ts";
import type { IoBus } from "../../platform/io-bus.ts";
import type { Stateful } from "../../platform/stateful.ts";
import { byteRegisterPorts } from "../byte-ports.ts";
import { UNCONNECTED, type IrqLine } from "../irq.ts";
import { PitCounter } from "./counter.ts";
import { parsePitState, PIT_STATE_VERSION, type PitState } from "./state.ts";
import { tickAt, timeOfTick } from "./timebase.ts";

export const PIT_BASE_PORT = 0x40;
export const PIT_PORT_COUNT = 4;
export const SYSTEM_CONTROL_PORT_B = 0x61;
export const PIT_IRQ = 0;

const CONTROL_REGISTER = 3;
const READ_BACK_SELECT = 3;
const READ_BACK_KEEP_COUNT = 0x20; // active low: 0 latches the count
const READ_BACK_KEEP_STATUS = 0x10; // active low: 0 latches the status
const LATCH_COMMAND_MASK = 0x30;

const PORT_B_GATE2 = 0x01;
const PORT_B_SPEAKER_DATA = 0x02;
const PORT_B_WRITABLE = 0x0f;
const PORT_B_REFRESH_TOGGLE = 0x10;
const PORT_B_OUT2 = 0x20;
// The refresh request flip-flop toggles once per DRAM refresh cycle, which the
// PC times with counter 1 at 18 input clocks (15.085 us). It is derived from
// the clock so that delay loops work whatever the guest did to counter 1.
const REFRESH_PERIOD_TICKS = 18;

export interface PitOptions {
  clock: MachineClock;
  /** Counter 0's OUT (IRQ0 on the master PIC). */
  irq0?: IrqLine;
}

export class Pit8254 implements TimedDevice, Stateful<PitState> {
  readonly stateId = "pit";
  private readonly clock: MachineClock;
  private readonly irq0: IrqLine;
  private readonly counters: [PitCounter, PitCounter, PitCounter];
  /** The input-clock edge the counters stand at. */
  private tick: number;
  private portB = 0;
  private irqLevel = false;

  constructor(options: PitOptions) {
    this.clock = options.clock;
    this.irq0 = options.irq0 ?? UNCONNECTED;
    // Gates 0 and 1 are tied high on the PC; gate 2 follows port B bit 0.
    this.counters = [new PitCounter(true), new PitCounter(true), new PitCounter(false)];
    this.tick = tickAt(this.clock.now());
    this.irqLevel = this.counters[0].out;
    this.irq0.set(this.irqLevel);
  }

  attach(io: IoBus): void {
    io.register(
      PIT_BASE_PORT,
      PIT_PORT_COUNT,
      byteRegisterPorts(PIT_BASE_PORT, PIT_PORT_COUNT, {
        readRegister: (offset) => this.readTimer(offset),
        writeRegister: (offset, value) => this.writeTimer(offset, value),
      }),
    );
    io.register(
      SYSTEM_CONTROL_PORT_B,
      1,
      byteRegisterPorts(SYSTEM_CONTROL_PORT_B, 1, {
        readRegister: () => this.readPortB(),
        writeRegister: (_offset, value) => this.writePortB(value),
      }),
    );
  }

  /** Speaker output is enabled (gate 2 and speaker data both set); OUT2 then drives the speaker. */
  get speakerEnabled(): boolean {
    const both = PORT_B_GATE2 | PORT_B_SPEAKER_DATA;
    return (this.portB & both) === both;
  }

  advance(now: number): void {
    this.syncTo(tickAt(now));
  }

  nextDeadline(): number {
    const pulses = this.counters[0].pulsesToRisingEdge();
    return pulses === Infinity ? Infinity : timeOfTick(this.tick + pulses);
  }

  private syncToNow(): void {
    this.syncTo(tickAt(this.clock.now()));
  }

  private syncTo(tick: number): void {
    // A restored state may stand ahead of a clock that has not caught up yet.
    if (!(tick > this.tick)) return;
    const pulses = tick - this.tick;
    const rose = this.counters[0].elapse(pulses);
    this.counters[1].elapse(pulses);
    this.counters[2].elapse(pulses);
    this.tick = tick;
    this.driveIrq0(rose);
  }

  /** Brings IRQ0 to OUT0's level; a rise the line did not see becomes a fresh edge. */
  private driveIrq0(rose: boolean): void {
    if (rose) {
      if (this.irqLevel) this.irq0.set(false);
      this.irq0.set(true);
      this.irqLevel = true;
    }
    const level = this.counters[0].out;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq0.set(level);
    }
  }

  private readTimer(offset: number): number {
    this.syncToNow();
    // The control word register cannot be read; nothing drives the bus.
    if (offset === CONTROL_REGISTER) return 0xff;
    return this.counters[offset]!.read();
  }

  private writeTimer(offset: number, value: number): void {
    this.syncToNow();
    if (offset === CONTROL_REGISTER) this.writeControlWord(value);
    else this.counters[offset]!.write(value);
    this.driveIrq0(false);
  }

  private writeControlWord(value: number): void {
    const select = value >> 6;
    if (select === READ_BACK_SELECT) {
      // Bits 1-3 select counters 0-2.
      this.counters.forEach((counter, i) => {
        if (!(value & (2 << i))) return;
        if (!(value & READ_BACK_KEEP_COUNT)) counter.latchCount();
        if (!(value & READ_BACK_KEEP_STATUS)) counter.latchStatus();
      });
    } else if ((value & LATCH_COMMAND_MASK) === 0) {
      this.counters[select]!.latchCount();
    } else {
      this.counters[select]!.writeControl(value & 0x3f);
    }
  }

  private readPortB(): number {
    this.syncToNow();
    const refresh = Math.floor(this.tick / REFRESH_PERIOD_TICKS) & 1;
    // Bits 6 and 7 report parity and I/O channel errors, which never happen here.
    return (
      this.portB | (refresh ? PORT_B_REFRESH_TOGGLE : 0) | (this.counters[2].out ? PORT_B_OUT2 : 0)
    );
  }

  private writePortB(value: number): void {
    this.syncToNow();
    this.portB = value & PORT_B_WRITABLE;
    this.counters[2].setGate((this.portB & PORT_B_GATE2) !== 0);
  }

  save(): PitState {
    return {
      version: PIT_STATE_VERSION,
      tick: this.tick,
      portB: this.portB,
      counters: [this.counters[0].save(), this.counters[1].save(), this.counters[2].save()],
    };
  }

  /** Checks a saved state; what it returns replaces the device state. */
  prepareRestore(state: unknown): () => void {
    const s = parsePitState(state);
    return () => this.apply(s);
  }

  private apply(s: PitState): void {
    this.tick = s.tick;
    this.portB = s.portB;
    this.counters.forEach((counter, i) => {
      counter.restore(s.counters[i]!, i !== 2 || (s.portB & PORT_B_GATE2) !== 0);
    });
    // Drive the line unconditionally: the PIC may have been restored separately.
    this.irqLevel = this.counters[0].out;
    this.irq0.set(this.irqLevel);
  }
}
