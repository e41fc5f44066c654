// The one machine clock. Every device that keeps time (PIT, RTC, the TSC,
// kvm-clock) reads it, so pausing the machine stops time for all of them and
// a snapshot carries a single value. Nanoseconds as a float: exact to the
// nanosecond for 104 days of guest time.
export interface MachineClock {
  /** Guest time in nanoseconds since the machine was created; monotonic, frozen while paused. */
  now(): number;
}

/**
 * A device with timed events. The run loop calls advance(now) between CPU
 * slices (and after a HLT, when it sleeps until the earliest deadline).
 */
export interface TimedDevice {
  /** Brings the device's state up to time `now` (fires what is due). */
  advance(now: number): void;
  /** Time of the next event in nanoseconds, or Infinity when none is scheduled. */
  nextDeadline(): number;
}

/** A clock driven by hand, for tests and the deterministic mode. */
export class ManualClock implements MachineClock {
  private time = 0;

  now(): number {
    return this.time;
  }

  /** Moves time forward by ns nanoseconds (never backwards). */
  advanceBy(ns: number): void {
    if (!(ns >= 0)) throw new RangeError(`clock can only move forward, got ${ns}`);
    this.time += ns;
  }
}
