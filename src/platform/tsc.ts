// The guest's time-stamp counter, derived from the one machine clock at a
// fixed rate, so it stops while the machine is paused and travels with it in
// a snapshot. A guest WRMSR to IA32_TIME_STAMP_COUNTER becomes an offset.
import type { MachineClock } from "./clock.ts";
import type { Stateful } from "./stateful.ts";
import { expectInt, expectNumber, expectObject, expectVersion } from "./state-check.ts";

export const TSC_STATE_VERSION = 1;
export const DEFAULT_TSC_HZ = 1_000_000_000;

export interface TscState {
  version: typeof TSC_STATE_VERSION;
  hz: number;
  /** Added to clock-derived ticks (a guest WRMSR); may be negative. */
  offset: number;
}

export class TimeStampCounter implements Stateful<TscState> {
  readonly stateId = "tsc";
  private offset = 0;

  constructor(
    private readonly clock: MachineClock,
    readonly hz: number = DEFAULT_TSC_HZ,
  ) {
    if (!Number.isInteger(hz) || hz < 1_000_000 || hz > 10_000_000_000 || hz % 1000 !== 0) {
      throw new RangeError(
        `TSC rate must be a whole number of kHz between 1 MHz and 10 GHz, got ${hz}`,
      );
    }
    this.khz = hz / 1000;
  }

  private readonly khz: number;

  /**
   * Ticks since the machine clock's zero, before the guest's offset:
   * floor(ns * hz / 1e9), exactly. ns * hz passes 2^53 after a few ms, so the
   * product is split into parts that each stay exact in a double.
   */
  ticksAt(ns: number): number {
    const whole = Math.floor(ns);
    const seconds = Math.floor(whole / 1e9);
    const rest = whole - seconds * 1e9; // < 1e9
    const millis = Math.floor(rest / 1e6); // < 1000
    const micros = rest - millis * 1e6 + (ns - whole); // < 1e6: micros * khz < 1e13
    return seconds * this.hz + millis * this.khz + Math.floor((micros * this.khz) / 1e6);
  }

  read(): number {
    return this.readAt(this.clock.now());
  }

  /** The guest's TSC value at machine-clock time `ns`. */
  readAt(ns: number): number {
    return Math.max(0, this.ticksAt(ns) + this.offset);
  }

  /** WRMSR 0x10: P6 keeps only the low 32 bits written (the upper half is cleared). */
  write(value: bigint): void {
    this.offset = Number(value & 0xffffffffn) - this.ticksAt(this.clock.now());
  }

  save(): TscState {
    return { version: TSC_STATE_VERSION, hz: this.hz, offset: this.offset };
  }

  prepareRestore(state: unknown): () => void {
    const fields = expectObject(state, "TSC state");
    expectVersion(fields, TSC_STATE_VERSION, "TSC state");
    // A snapshot from a machine with another TSC rate would make guest time jump.
    expectInt(fields, "hz", this.hz, this.hz, "TSC state");
    const offset = expectNumber(fields, "offset", -(2 ** 53), 2 ** 53, "TSC state");
    if (!Number.isInteger(offset)) throw new RangeError("TSC state.offset must be an integer");
    return () => {
      this.offset = offset;
    };
  }
}
