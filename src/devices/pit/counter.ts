// One 8254 counter as the CPU sees it: the control word, the count register
// written a byte at a time, the output and status latches, the read and write
// byte flip-flops, and the gate. The caller brings the counter up to the
// present with elapse() before every access.
import {
  ACCESS_LSB,
  ACCESS_LSB_MSB,
  ACCESS_MSB,
  accessOf,
  encodeCount,
  initialCount,
  modeOf,
  modulusOf,
} from "./control.ts";
import {
  elapse,
  elementOf,
  loadedPhase,
  outputOf,
  pulsesToRisingEdge,
  type CountingContext,
} from "./counting-element.ts";
import type { PitCounterState } from "./state.ts";

const STATUS_OUT = 0x80;
const STATUS_NULL_COUNT = 0x40;
// Power-on contents are undefined. This one waits for a count in mode 2 with
// OUT high, so the BIOS's first mode 2/3 control word raises no spurious IRQ0.
const RESET_CONTROL = 0x34;

export class PitCounter {
  private s: PitCounterState = PitCounter.resetState();

  constructor(private gate: boolean) {}

  static resetState(): PitCounterState {
    return {
      control: RESET_CONTROL,
      countRegister: 0,
      hasCount: false,
      nullCount: true,
      writeMsbNext: false,
      readMsbNext: false,
      latchedCount: null,
      latchedStatus: null,
      pendingLoad: false,
      phase: { kind: "held", element: 0, out: true },
    };
  }

  private context(): CountingContext {
    const { control } = this.s;
    return {
      mode: modeOf(control),
      modulus: modulusOf(control),
      reloadCount: initialCount(this.s.countRegister, control),
      gate: this.gate,
    };
  }

  /** The OUT pin. */
  get out(): boolean {
    return outputOf(this.s.phase, this.context());
  }

  /** Clock pulses from now until OUT next rises, or Infinity. */
  pulsesToRisingEdge(): number {
    const ctx = this.context();
    if (!this.s.pendingLoad) return pulsesToRisingEdge(this.s.phase, ctx);
    const loaded = loadedPhase(ctx);
    if (!this.out && outputOf(loaded, ctx)) return 1;
    return 1 + pulsesToRisingEdge(loaded, ctx);
  }

  /** Lets `pulses` input clock pulses go by; true if OUT rose meanwhile. */
  elapse(pulses: number): boolean {
    if (pulses <= 0) return false;
    const rose = this.pulsesToRisingEdge() <= pulses;
    const ctx = this.context();
    let left = pulses;
    if (this.s.pendingLoad) {
      this.s.phase = loadedPhase(ctx);
      this.s.pendingLoad = false;
      this.s.nullCount = false;
      left--;
    }
    if (left > 0) {
      const after = elapse(this.s.phase, ctx, left);
      this.s.phase = after.phase;
      if (after.reloaded) this.s.nullCount = false;
    }
    return rose;
  }

  /** A control word for this counter (its low six bits): resets the counter's control logic. */
  writeControl(control: number): void {
    const element = elementOf(this.s.phase, this.context());
    const modulus = modulusOf(control);
    this.s = {
      ...PitCounter.resetState(),
      control,
      countRegister: this.s.countRegister,
      // OUT goes low in mode 0 and high in every other mode, without a clock pulse.
      phase: { kind: "held", element: element % modulus, out: modeOf(control) !== 0 },
    };
  }

  /** The counter latch command; a count already latched and not read yet is kept. */
  latchCount(): void {
    if (this.s.latchedCount === null) this.s.latchedCount = this.liveCount();
  }

  /** The status part of a read-back command; a status already latched is kept. */
  latchStatus(): void {
    if (this.s.latchedStatus !== null) return;
    this.s.latchedStatus =
      (this.out ? STATUS_OUT : 0) | (this.s.nullCount ? STATUS_NULL_COUNT : 0) | this.s.control;
  }

  private liveCount(): number {
    return encodeCount(elementOf(this.s.phase, this.context()), this.s.control);
  }

  read(): number {
    if (this.s.latchedStatus !== null) {
      const status = this.s.latchedStatus;
      this.s.latchedStatus = null;
      return status;
    }
    const count = this.s.latchedCount ?? this.liveCount();
    const access = accessOf(this.s.control);
    let byte: number;
    if (access === ACCESS_LSB) byte = count & 0xff;
    else if (access === ACCESS_MSB) byte = count >> 8;
    else {
      byte = this.s.readMsbNext ? count >> 8 : count & 0xff;
      this.s.readMsbNext = !this.s.readMsbNext;
    }
    // A latched count is released once all of it has been read.
    if (access !== ACCESS_LSB_MSB || !this.s.readMsbNext) this.s.latchedCount = null;
    return byte;
  }

  write(byte: number): void {
    const access = accessOf(this.s.control);
    const cr = this.s.countRegister;
    if (access === ACCESS_LSB) this.s.countRegister = byte;
    else if (access === ACCESS_MSB) this.s.countRegister = byte << 8;
    else if (!this.s.writeMsbNext) {
      this.s.countRegister = (cr & 0xff00) | byte;
      this.s.writeMsbNext = true;
      this.firstByteWritten();
      return;
    } else {
      this.s.countRegister = (cr & 0x00ff) | (byte << 8);
      this.s.writeMsbNext = false;
    }
    this.countWritten();
  }

  /** The LSB of a two-byte count: in mode 0 it stops counting and drops OUT at once. */
  private firstByteWritten(): void {
    if (modeOf(this.s.control) !== 0) return;
    this.holdElement(false);
    this.s.pendingLoad = false;
  }

  private countWritten(): void {
    const mode = modeOf(this.s.control);
    this.s.hasCount = true;
    this.s.nullCount = true;
    switch (mode) {
      case 0:
        // A new count restarts the countdown with OUT low.
        this.holdElement(false);
        this.s.pendingLoad = true;
        break;
      case 4:
        this.s.pendingLoad = true;
        break;
      case 2:
      case 3:
        // A running cycle picks the new count up at its next reload.
        if (this.s.phase.kind === "held") this.s.pendingLoad = true;
        break;
      // Modes 1 and 5 wait for a trigger on the gate.
    }
  }

  private holdElement(out: boolean): void {
    this.s.phase = { kind: "held", element: elementOf(this.s.phase, this.context()), out };
  }

  setGate(level: boolean): void {
    if (level === this.gate) return;
    const mode = modeOf(this.s.control);
    if (mode === 2 || mode === 3) {
      // Gate low stops the cycle and forces OUT high at once; the rising edge restarts it.
      if (!level && this.s.phase.kind === "periodic") this.holdElement(true);
      if (level && this.s.hasCount) this.s.pendingLoad = true;
    } else if ((mode === 1 || mode === 5) && level && this.s.hasCount) {
      this.s.pendingLoad = true; // the trigger
    }
    this.gate = level;
  }

  save(): PitCounterState {
    return { ...this.s, phase: { ...this.s.phase } };
  }

  /** Applies an already validated state. */
  restore(state: PitCounterState, gate: boolean): void {
    this.s = { ...state, phase: { ...state.phase } };
    this.gate = gate;
  }
}
