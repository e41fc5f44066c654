// The run loop over a fake machine (no wasm): it steps until the guest stops,
// pauses and resumes without ever running two loops, sleeps while the guest
// is idle (until the deadline on a realtime clock, until a kick when nothing
// is scheduled) and yields so timers and promises get through a busy run.
import { afterEach, describe, expect, it } from "vitest";
import { RunLoop, type StepOutcome, type Steppable } from "../../src/machine/run-loop.ts";

type Script = (call: number, machine: FakeMachine) => StepOutcome;

const RAN: StepOutcome = { kind: "ran" };

class FakeMachine implements Steppable {
  calls = 0;
  /** performance.now() of each step. */
  readonly stepTimes: number[] = [];
  /** Deterministic machines: the guest time now() reports. */
  virtualNs = 0;
  private readonly t0 = performance.now();

  constructor(
    readonly realtime: boolean,
    private readonly script: Script,
    /** Host time each step takes (busy-waited), like a CPU slice. */
    private readonly stepMs = 0,
  ) {}

  now(): number {
    return this.realtime ? (performance.now() - this.t0) * 1e6 : this.virtualNs;
  }

  step(maxInstructions: number): StepOutcome {
    expect(maxInstructions).toBeGreaterThan(0);
    const end = performance.now() + this.stepMs;
    while (performance.now() < end) {
      // a slice of guest code
    }
    this.calls++;
    this.stepTimes.push(performance.now());
    return this.script(this.calls, this);
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Waits (polling) until `condition` holds, failing after `ms`. */
async function until(condition: () => boolean, ms = 2000): Promise<void> {
  const end = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > end) throw new Error("condition not met in time");
    await sleep(1);
  }
}

const loops: RunLoop[] = [];
function runLoop(machine: FakeMachine): RunLoop {
  const loop = new RunLoop(machine);
  loops.push(loop);
  return loop;
}

afterEach(async () => {
  for (const loop of loops.splice(0)) await loop.pause();
});

describe("running", () => {
  it('stops with "internal-error" when a step throws, instead of an unhandled rejection', async () => {
    const bug = new Error("emulator bug");
    const machine = new FakeMachine(true, (call) => {
      if (call === 3) throw bug;
      return RAN;
    });
    const loop = runLoop(machine);
    loop.start();
    expect(await loop.stopped()).toBe("internal-error");
    expect(loop.failure).toBe(bug);
    expect(loop.current).toBe("stopped");
    await loop.pause(); // resolves; nothing runs any more
    expect(machine.calls).toBe(3);
  });

  it("steps until the guest stops and resolves stopped() with its reason", async () => {
    const machine = new FakeMachine(true, (call) =>
      call < 500 ? RAN : { kind: "stopped", reason: "debug-exit" },
    );
    const loop = runLoop(machine);
    expect(loop.current).toBe("paused");
    expect(machine.calls).toBe(0);
    const stopped = loop.stopped();
    loop.start();
    expect(await stopped).toBe("debug-exit");
    expect(machine.calls).toBe(500);
    expect(loop.current).toBe("stopped");
    expect(loop.reason).toBe("debug-exit");
    expect(await loop.stopped()).toBe("debug-exit"); // also when asked afterwards
    loop.start(); // a stopped guest stays stopped
    await sleep(20);
    expect(machine.calls).toBe(500);
    await loop.pause();
    expect(loop.current).toBe("stopped");
  });

  it("start() on a running loop does not start another", async () => {
    const machine = new FakeMachine(true, () => ({ kind: "idle", until: Infinity }));
    const loop = runLoop(machine);
    loop.start();
    loop.start();
    loop.start();
    await sleep(60);
    expect(machine.calls).toBe(1); // one loop: one step, then it sleeps
  });
});

describe("pause and start", () => {
  it("pause() resolves once stepping has stopped; nothing runs until start()", async () => {
    const machine = new FakeMachine(true, () => RAN, 0.2);
    const loop = runLoop(machine);
    loop.start();
    await until(() => machine.calls > 50);
    await loop.pause();
    expect(loop.current).toBe("paused");
    const calls = machine.calls;
    await sleep(50);
    expect(machine.calls).toBe(calls);
    loop.start();
    await until(() => machine.calls > calls + 50);
    expect(loop.current).toBe("running");
  });

  it("pause() from inside a step ends the loop after that step", async () => {
    const pausing: Array<Promise<void>> = [];
    const machine = new FakeMachine(true, (call) => {
      if (call === 5) pausing.push(loop.pause());
      return RAN;
    });
    const loop = runLoop(machine);
    loop.start();
    await until(() => pausing.length === 1);
    await pausing[0];
    await sleep(30);
    expect(machine.calls).toBe(5);
  });

  it("pause() wakes a sleeping loop instead of waiting for its timer", async () => {
    const machine = new FakeMachine(true, () => ({ kind: "idle", until: Infinity }));
    const loop = runLoop(machine);
    loop.start();
    await until(() => machine.calls === 1);
    const t = performance.now();
    await loop.pause();
    expect(performance.now() - t).toBeLessThan(150); // the sleep would last 250 ms
  });

  it("pause and start in quick succession never leave two loops running", async () => {
    // Each step sends the loop to sleep, so every live loop shows up as one step.
    const machine = new FakeMachine(true, () => ({ kind: "idle", until: Infinity }));
    const loop = runLoop(machine);
    loop.start();
    await until(() => machine.calls === 1);
    for (let i = 0; i < 10; i++) {
      void loop.pause();
      loop.start();
    }
    await sleep(100);
    expect(machine.calls).toBe(2);
    expect(loop.current).toBe("running");
  });

  it("the loop from before a pause ends even when start() follows at once", async () => {
    const machine = new FakeMachine(true, () => RAN, 0.05);
    const loop = runLoop(machine);
    loop.start();
    await until(() => machine.calls > 20);
    const paused = loop.pause(); // resolves when the old loop has returned
    loop.start();
    const outcome = await Promise.race([paused.then(() => "ended"), sleep(1000).then(() => "")]);
    expect(outcome).toBe("ended");
    const calls = machine.calls;
    await until(() => machine.calls > calls + 20); // the new loop runs
  });

  it("pause and start during a busy run leave exactly one loop", async () => {
    // Busy first; then every step sends its loop to sleep, so each live loop steps once.
    let busy = true;
    const machine = new FakeMachine(
      true,
      (): StepOutcome => (busy ? RAN : { kind: "idle", until: Infinity }),
      0.05,
    );
    const loop = runLoop(machine);
    loop.start();
    await until(() => machine.calls > 20);
    for (let round = 0; round < 20; round++) {
      void loop.pause();
      loop.start();
      // Let the old loop get to a different point each round (mid-yield, mid-burst).
      for (let i = 0; i < round % 4; i++) await new Promise((resolve) => setImmediate(resolve));
    }
    const calls = machine.calls;
    await until(() => machine.calls > calls + 20); // still running
    busy = false;
    const callsWhenIdle = machine.calls;
    await sleep(100);
    expect(machine.calls - callsWhenIdle).toBe(1);
  });
});

describe("idle", () => {
  it("a realtime machine sleeps until its deadline", async () => {
    // Like a halted guest: idle until the deadline whenever stepped before it.
    let deadline = 0;
    const machine = new FakeMachine(true, (call, m) => {
      if (call === 1) deadline = m.now() + 30e6; // 30 ms
      if (m.now() < deadline) return { kind: "idle", until: deadline };
      return { kind: "stopped", reason: "done" };
    });
    const loop = runLoop(machine);
    loop.start();
    expect(await loop.stopped()).toBe("done");
    const first = machine.stepTimes[0]!;
    const last = machine.stepTimes.at(-1)!;
    // Host timers have millisecond granularity and may wake the loop a little
    // early (it then sleeps the rest), but never step during the sleep itself.
    const duringSleep = machine.stepTimes.filter((t) => t > first && t < first + 25);
    expect(duringSleep).toEqual([]);
    expect(machine.calls).toBeLessThanOrEqual(4);
    expect(last - first).toBeGreaterThanOrEqual(30 - 0.01);
    expect(last - first).toBeLessThan(200);
  });

  it("kick() wakes a sleeping realtime machine early", async () => {
    const machine = new FakeMachine(true, (call, m) =>
      call === 1 ? { kind: "idle", until: m.now() + 10e9 } : { kind: "stopped", reason: "input" },
    );
    const loop = runLoop(machine);
    loop.start();
    await until(() => machine.calls === 1);
    await sleep(20);
    expect(machine.calls).toBe(1);
    const kickedAt = performance.now();
    loop.kick();
    expect(await loop.stopped()).toBe("input");
    expect(machine.stepTimes[1]! - kickedAt).toBeLessThan(100); // not the 250 ms sleep
  });

  it("a deterministic machine with nothing scheduled waits for a kick", async () => {
    const machine = new FakeMachine(false, (call) =>
      call === 1 ? { kind: "idle", until: Infinity } : { kind: "stopped", reason: "woken" },
    );
    const loop = runLoop(machine);
    loop.start();
    await until(() => machine.calls === 1);
    await sleep(100);
    expect(machine.calls).toBe(1);
    const kickedAt = performance.now();
    loop.kick();
    expect(await loop.stopped()).toBe("woken");
    expect(machine.stepTimes[1]! - kickedAt).toBeLessThan(100);
  });

  it("a deterministic machine with a timer does not sleep: its clock has jumped", async () => {
    const machine = new FakeMachine(false, (call, m) => {
      if (call > 20) return { kind: "stopped", reason: "done" };
      m.virtualNs += 1e9; // the clock skipped a second ahead
      return { kind: "idle", until: m.virtualNs + 1e9 };
    });
    const loop = runLoop(machine);
    const t = performance.now();
    loop.start();
    expect(await loop.stopped()).toBe("done");
    expect(performance.now() - t).toBeLessThan(150); // 20 real sleeps would take seconds
  });

  it("a kick while running is harmless", async () => {
    const machine = new FakeMachine(true, (call) =>
      call < 200 ? RAN : { kind: "stopped", reason: "done" },
    );
    const loop = runLoop(machine);
    loop.start();
    loop.kick();
    expect(await loop.stopped()).toBe("done");
    expect(machine.calls).toBe(200);
  });
});

describe("yielding", () => {
  it("timers and promises run during a long busy run", async () => {
    const machine = new FakeMachine(true, () => RAN, 0.5);
    const loop = runLoop(machine);
    loop.start();
    const start = performance.now();
    const callsAtTimer = await new Promise<number>((resolve) =>
      setTimeout(() => resolve(machine.calls), 5),
    );
    expect(performance.now() - start).toBeLessThan(100);
    expect(callsAtTimer).toBeGreaterThan(0);
    let resolved = false;
    void Promise.resolve().then(() => (resolved = true));
    await until(() => resolved, 100);
    const later = machine.calls;
    await until(() => machine.calls > later); // and the guest keeps running
  });
});

describe("throttling", () => {
  // The share of host time spent in guest slices over one measured window.
  async function busyShare(throttle: number): Promise<number> {
    const machine = new FakeMachine(true, () => RAN, 1);
    const loop = runLoop(machine);
    loop.setThrottle(throttle);
    loop.start();
    await sleep(100); // settle
    const from = machine.calls;
    const start = performance.now();
    await sleep(600);
    const steps = machine.calls - from;
    const share = steps / (performance.now() - start); // each step is 1 ms busy
    await loop.pause();
    return share;
  }

  it("runs the guest for about the given fraction of host time", async () => {
    const full = await busyShare(1);
    const quarter = await busyShare(0.25);
    expect(full).toBeGreaterThan(0.6);
    expect(quarter).toBeGreaterThan(0.1);
    expect(quarter).toBeLessThan(0.45);
    expect(quarter / full).toBeLessThan(0.55);
  });

  it("refuses a fraction outside (0, 1]", () => {
    const loop = runLoop(new FakeMachine(true, () => RAN));
    for (const bad of [0, -0.5, 1.5, Number.NaN])
      expect(() => loop.setThrottle(bad)).toThrow(RangeError);
    loop.setThrottle(0.5);
    expect(loop.throttle).toBe(0.5);
  });
});
