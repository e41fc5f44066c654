// Drives a machine on the host's event loop: runs CPU slices for a few
// milliseconds, yields so I/O and RPC get through, and sleeps while the guest
// is halted until its next timer or until something (input, a pause request)
// kicks it. The same loop runs in Node and in a Web Worker. A throttle runs
// the guest for only a fraction of the host's time (auto-converge: a guest
// that dirties memory faster than a migration can send it is slowed down).

/** What one step of the machine did. */
export type StepOutcome =
  | { kind: "ran" }
  | { kind: "idle"; until: number } // halted until this machine-clock time (ns; may be Infinity)
  | { kind: "stopped"; reason: string };

export interface Steppable {
  /** Runs one slice of at most `maxInstructions`. */
  step(maxInstructions: number): StepOutcome;
  /** Machine-clock time now (ns). */
  now(): number;
  /** True when `idle` waits need real time to pass (a realtime clock). */
  readonly realtime: boolean;
}

/** Host time the loop runs before it yields to the event loop. */
const BURST_MS = 12;
/** A halted guest with no timer is looked at again at least this often. */
const MAX_SLEEP_MS = 250;
const STEP_INSTRUCTIONS = 1_000_000;

function hostNowMs(): number {
  return performance.now();
}

// setImmediate where it exists (Node); a MessageChannel round trip in a
// worker, which unlike setTimeout(0) is not clamped to 4 ms.
export function yieldToHost(): Promise<void> {
  if (typeof setImmediate === "function") return new Promise((resolve) => setImmediate(resolve));
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}

export type LoopState = "paused" | "running" | "stopped";

export class RunLoop {
  private state: LoopState = "paused";
  private wake: (() => void) | null = null;
  private loopDone: Promise<void> = Promise.resolve();
  private stopReason: string | null = null;
  /** What step() threw, when the loop stopped with "internal-error". */
  failure: unknown = null;
  private stopListeners: Array<(reason: string) => void> = [];
  // A loop from before a pause that has not noticed it yet must not keep running.
  private generation = 0;
  private share = 1;

  constructor(private readonly machine: Steppable) {}

  get current(): LoopState {
    return this.state;
  }

  get reason(): string | null {
    return this.stopReason;
  }

  /** Starts or resumes running; no-op when running or stopped. */
  start(): void {
    if (this.state !== "paused") return;
    this.state = "running";
    const previous = this.loopDone;
    const generation = ++this.generation;
    this.loopDone = previous.then(() => this.loop(generation));
  }

  /** Stops at the next slice boundary; resolves once no guest code runs. */
  async pause(): Promise<void> {
    if (this.state === "running") this.state = "paused";
    this.kick();
    await this.loopDone;
  }

  /** Something happened the guest may react to (input arrived): end a sleep now. */
  kick(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  /** The fraction of host time the guest runs, in (0, 1]. */
  get throttle(): number {
    return this.share;
  }

  /** Runs the guest for only `fraction` of the host's time (1: full speed). */
  setThrottle(fraction: number): void {
    if (!(fraction > 0 && fraction <= 1)) {
      throw new RangeError(`a throttle is a fraction in (0, 1], got ${fraction}`);
    }
    this.share = fraction;
  }

  /** Resolves with the reason once the guest stops by itself (exit, triple fault, halt). */
  stopped(): Promise<string> {
    if (this.stopReason !== null) return Promise.resolve(this.stopReason);
    return new Promise((resolve) => this.stopListeners.push(resolve));
  }

  private finish(reason: string): void {
    this.state = "stopped";
    this.stopReason = reason;
    const listeners = this.stopListeners;
    this.stopListeners = [];
    for (const listener of listeners) listener(reason);
  }

  private async loop(generation: number): Promise<void> {
    const live = () => this.state === "running" && this.generation === generation;
    while (live()) {
      const burstStart = hostNowMs();
      const burstEnd = burstStart + BURST_MS;
      let idleUntil: number | null = null;
      while (live() && hostNowMs() < burstEnd) {
        let outcome: StepOutcome;
        try {
          outcome = this.machine.step(STEP_INSTRUCTIONS);
        } catch (error) {
          // An emulator bug must not become an unhandled rejection: the guest stops, saying why.
          this.failure = error;
          this.finish("internal-error");
          return;
        }
        if (outcome.kind === "stopped") {
          this.finish(outcome.reason);
          return;
        }
        if (outcome.kind === "idle") {
          idleUntil = outcome.until;
          break;
        }
      }
      if (!live()) break;
      // A deterministic clock has already jumped to the timer; only "no timer at all" waits.
      const mustWait = idleUntil !== null && (this.machine.realtime || idleUntil === Infinity);
      if (mustWait) {
        await this.sleep(Math.min(MAX_SLEEP_MS, (idleUntil! - this.machine.now()) / 1e6));
      } else if (this.share < 1) {
        await this.sleep(((hostNowMs() - burstStart) * (1 - this.share)) / this.share);
      } else {
        await yieldToHost();
      }
    }
  }

  /** Waits `ms` of host time, or until kick(). */
  private sleep(ms: number): Promise<void> {
    ms = Math.max(0, ms);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
