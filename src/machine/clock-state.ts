// The machine clock as machine state: guest time (ns since power-on) when the
// state was taken. Restored, the clock starts there, so the TSC, the PIT, the
// RTC and kvm-clock, which all read it, carry on without a jump backwards.
import { expectNumber, expectObject, expectVersion } from "../platform/state-check.ts";
import type { Stateful } from "../platform/stateful.ts";
import type { RunClock } from "./guest-clocks.ts";

export const CLOCK_STATE_VERSION = 1;

export interface ClockState {
  version: typeof CLOCK_STATE_VERSION;
  ns: number;
}

export class ClockComponent implements Stateful<ClockState> {
  readonly stateId = "clock";

  constructor(private readonly clock: RunClock) {}

  save(): ClockState {
    return { version: CLOCK_STATE_VERSION, ns: this.clock.now() };
  }

  prepareRestore(state: unknown): () => void {
    const what = "clock state";
    const fields = expectObject(state, what);
    expectVersion(fields, CLOCK_STATE_VERSION, what);
    const ns = expectNumber(fields, "ns", 0, Number.MAX_SAFE_INTEGER, what);
    return () => this.clock.set(ns);
  }
}
