// The two run clocks, with their time sources injected: RealtimeClock over a
// fake host clock (milliseconds, like performance.now), InstructionClock over
// a fake instruction counter.
import { describe, expect, it } from "vitest";
import { InstructionClock, RealtimeClock, type RunClock } from "../../src/machine/guest-clocks.ts";

const MS = 1_000_000; // ns

function realtime(startMs = 5000) {
  const host = { ms: startMs };
  return { host, clock: new RealtimeClock(() => host.ms) };
}

function deterministic(nsPerInstruction = 2.5) {
  const cpu = { count: 1_000_000 }; // not zero: the clock must count from resume()
  return { cpu, clock: new InstructionClock(() => cpu.count, nsPerInstruction) };
}

describe("RealtimeClock", () => {
  it("is realtime and starts paused at zero", () => {
    const { host, clock } = realtime();
    expect(clock.kind).toBe("realtime");
    host.ms += 100;
    expect(clock.now()).toBe(0);
  });

  it("follows the host clock while running, to the nanosecond", () => {
    const { host, clock } = realtime();
    clock.resume();
    host.ms += 3;
    expect(clock.now()).toBe(3 * MS);
    host.ms += 0.005; // a browser's 5 µs resolution
    expect(clock.now()).toBe(3 * MS + 5000);
  });

  it("pause freezes it; resume continues from the frozen value without a jump", () => {
    const { host, clock } = realtime();
    clock.resume();
    host.ms += 10;
    clock.pause();
    const frozen = clock.now();
    expect(frozen).toBe(10 * MS);
    host.ms += 60_000;
    expect(clock.now()).toBe(frozen);
    clock.resume();
    expect(clock.now()).toBe(frozen);
    host.ms += 2;
    expect(clock.now()).toBe(frozen + 2 * MS);
  });

  it("resume and pause are idempotent", () => {
    const { host, clock } = realtime();
    clock.resume();
    host.ms += 4;
    clock.resume(); // must not restart the interval
    host.ms += 1;
    expect(clock.now()).toBe(5 * MS);
    clock.pause();
    host.ms += 7;
    clock.pause();
    clock.resume();
    host.ms += 1;
    expect(clock.now()).toBe(6 * MS);
  });

  it("never goes backwards, even if the host clock does", () => {
    const { host, clock } = realtime();
    clock.resume();
    host.ms += 10;
    expect(clock.now()).toBe(10 * MS);
    host.ms -= 4;
    expect(clock.now()).toBe(10 * MS);
    host.ms += 4; // back where it was: no double counting either
    expect(clock.now()).toBe(10 * MS);
    host.ms += 1;
    expect(clock.now()).toBe(11 * MS);
  });

  it("does not go below the paused value when the host steps back across a resume", () => {
    const { host, clock } = realtime();
    clock.resume();
    host.ms += 8;
    clock.pause();
    clock.resume();
    host.ms -= 3;
    expect(clock.now()).toBe(8 * MS);
    clock.pause();
    expect(clock.now()).toBe(8 * MS);
  });

  it("can be set while paused (a restore), also to an earlier time", () => {
    const { host, clock } = realtime();
    clock.resume();
    host.ms += 50;
    clock.pause();
    clock.set(7 * MS);
    expect(clock.now()).toBe(7 * MS);
    clock.resume();
    host.ms += 1;
    expect(clock.now()).toBe(8 * MS);
  });

  it("cannot be set while running, nor to a bad time", () => {
    const { host, clock } = realtime();
    clock.resume();
    host.ms += 1;
    expect(() => clock.set(0)).toThrow(/paused/);
    expect(clock.now()).toBe(MS);
    clock.pause();
    for (const bad of [-1, NaN, Infinity]) {
      expect(() => clock.set(bad), String(bad)).toThrow(RangeError);
    }
    expect(clock.now()).toBe(MS);
  });

  it("cannot skip ahead: a halted guest must wait for real time", () => {
    const { host, clock } = realtime();
    clock.resume();
    host.ms += 1;
    const asRunClock: RunClock = clock; // skipTo(deadline), as the machine calls it
    expect(asRunClock.skipTo(500 * MS)).toBe(false);
    expect(clock.now()).toBe(MS);
  });
});

describe("InstructionClock", () => {
  it("is deterministic and starts paused at zero", () => {
    const { cpu, clock } = deterministic();
    expect(clock.kind).toBe("deterministic");
    cpu.count += 100;
    expect(clock.now()).toBe(0);
  });

  it("counts nsPerInstruction per instruction retired while running", () => {
    const { cpu, clock } = deterministic(2.5);
    clock.resume();
    cpu.count += 1000;
    expect(clock.now()).toBe(2500);
    cpu.count += 1;
    expect(clock.now()).toBe(2502.5);
  });

  it("pause freezes it; resume counts from the instructions retired then", () => {
    const { cpu, clock } = deterministic(4);
    clock.resume();
    cpu.count += 10;
    clock.pause();
    cpu.count += 1_000_000; // ran while paused (e.g. a debugger step): not guest time
    expect(clock.now()).toBe(40);
    clock.resume();
    expect(clock.now()).toBe(40);
    cpu.count += 5;
    clock.resume(); // already running: must not restart the count
    cpu.count += 5;
    expect(clock.now()).toBe(80);
  });

  it("after a restore the count may differ: time continues from the value set", () => {
    const { cpu, clock } = deterministic(1);
    clock.resume();
    cpu.count += 500;
    clock.pause();
    clock.set(123_456);
    cpu.count = 42; // the core restored an older instruction count
    clock.resume();
    cpu.count += 3;
    expect(clock.now()).toBe(123_459);
    expect(() => clock.set(0)).toThrow(/paused/);
  });

  it("skipTo jumps a halted CPU forward to the deadline", () => {
    const { cpu, clock } = deterministic(2);
    clock.resume();
    cpu.count += 10;
    expect(clock.skipTo(1000)).toBe(true);
    expect(clock.now()).toBe(1000);
    cpu.count += 3;
    expect(clock.now()).toBe(1006);
  });

  it("skipTo never moves time back", () => {
    const { cpu, clock } = deterministic(2);
    clock.resume();
    cpu.count += 100;
    expect(clock.skipTo(150)).toBe(true);
    expect(clock.now()).toBe(200);
    cpu.count += 1;
    expect(clock.now()).toBe(202);
    clock.skipTo(202);
    expect(clock.now()).toBe(202);
  });

  it("instructionsUntil: enough instructions to reach the deadline, at least one", () => {
    const { cpu, clock } = deterministic(2.5);
    clock.resume();
    cpu.count += 4; // now = 10
    expect(clock.instructionsUntil(20)).toBe(4);
    expect(clock.instructionsUntil(21)).toBe(5);
    expect(clock.instructionsUntil(10)).toBe(1);
    expect(clock.instructionsUntil(0)).toBe(1);
    for (const deadline of [11, 99, 1234.5, 1e9 + 1]) {
      const start = clock.now();
      const n = clock.instructionsUntil(deadline);
      expect(start + n * 2.5).toBeGreaterThanOrEqual(deadline);
      expect(start + (n - 1) * 2.5).toBeLessThan(deadline);
    }
  });

  it("rejects a rate that is not a positive finite number", () => {
    for (const bad of [0, -1, NaN, Infinity]) {
      expect(() => new InstructionClock(() => 0, bad), String(bad)).toThrow(RangeError);
    }
  });

  it("cannot be set to a bad time", () => {
    const { clock } = deterministic();
    for (const bad of [-5, NaN, Infinity]) {
      expect(() => clock.set(bad), String(bad)).toThrow(RangeError);
    }
    expect(clock.now()).toBe(0);
  });
});
