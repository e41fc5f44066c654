// The two clocks a machine can run on. Both are frozen while the machine is
// paused and can be set when a snapshot is restored, so guest time never jumps
// backwards and sees a pause as exactly the time it lasted (or none).
import type { MachineClock } from "../platform/clock.ts";

export interface RunClock extends MachineClock {
  readonly kind: "realtime" | "deterministic";
  /** Starts time flowing (no-op when it already flows). */
  resume(): void;
  /** Freezes time at its current value. */
  pause(): void;
  /** Sets the current time (restore); only while paused. */
  set(ns: number): void;
  /**
   * The CPU is halted until `deadline`: a deterministic clock jumps there at
   * once (returns true); a realtime clock must be waited for (returns false).
   */
  skipTo(deadline: number): boolean;
}

function checkTime(ns: number): void {
  if (!Number.isFinite(ns) || ns < 0) throw new RangeError(`clock time must be >= 0, got ${ns}`);
}

/** Guest time follows the host's monotonic clock while running. */
export class RealtimeClock implements RunClock {
  readonly kind = "realtime";
  private base = 0;
  private resumedAtMs: number | null = null;
  private last = 0;

  constructor(private readonly hostNowMs: () => number = () => performance.now()) {}

  now(): number {
    if (this.resumedAtMs === null) return this.base;
    const t = this.base + Math.round((this.hostNowMs() - this.resumedAtMs) * 1e6);
    // Host timers may be coarse (5 µs in a browser); never step backwards.
    if (t > this.last) this.last = t;
    return this.last;
  }

  resume(): void {
    if (this.resumedAtMs === null) this.resumedAtMs = this.hostNowMs();
  }

  pause(): void {
    if (this.resumedAtMs === null) return;
    this.base = this.now();
    this.resumedAtMs = null;
  }

  set(ns: number): void {
    checkTime(ns);
    if (this.resumedAtMs !== null) throw new Error("the clock can only be set while paused");
    this.base = ns;
    this.last = ns;
  }

  skipTo(): boolean {
    return false;
  }
}

/**
 * Guest time derived from the instruction count (like QEMU's icount): the
 * same program sees the same times on any host, which makes runs
 * reproducible. A halted CPU jumps straight to its next timer.
 */
export class InstructionClock implements RunClock {
  readonly kind = "deterministic";
  private base = 0;
  private countAtBase = 0;
  private running = false;

  constructor(
    private readonly instructionCount: () => number,
    readonly nsPerInstruction: number,
  ) {
    // Finite too: Infinity would make every time after the first instruction Infinity or NaN.
    if (!(nsPerInstruction > 0 && Number.isFinite(nsPerInstruction))) {
      throw new RangeError(
        `nsPerInstruction must be a positive finite number, got ${nsPerInstruction}`,
      );
    }
  }

  now(): number {
    if (!this.running) return this.base;
    return this.base + (this.instructionCount() - this.countAtBase) * this.nsPerInstruction;
  }

  resume(): void {
    if (this.running) return;
    this.countAtBase = this.instructionCount();
    this.running = true;
  }

  pause(): void {
    if (!this.running) return;
    this.base = this.now();
    this.running = false;
  }

  set(ns: number): void {
    checkTime(ns);
    if (this.running) throw new Error("the clock can only be set while paused");
    this.base = ns;
  }

  skipTo(deadline: number): boolean {
    const now = this.now();
    if (deadline > now) {
      this.base = deadline;
      this.countAtBase = this.instructionCount();
    }
    return true;
  }

  /** Instructions until `deadline` at this clock's rate (at least 1). */
  instructionsUntil(deadline: number): number {
    return Math.max(1, Math.ceil((deadline - this.now()) / this.nsPerInstruction));
  }
}
