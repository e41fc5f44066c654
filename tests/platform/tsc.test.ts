// The time-stamp counter: ticks derived from the machine clock at a fixed
// rate, a guest WRMSR turned into an offset, frozen with the clock, and
// carried by a snapshot.
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../src/platform/clock.ts";
import { RealtimeClock } from "../../src/machine/guest-clocks.ts";
import { DEFAULT_TSC_HZ, TimeStampCounter, TSC_STATE_VERSION } from "../../src/platform/tsc.ts";
import { restoreComponent } from "../../src/platform/stateful.ts";

describe("rate", () => {
  it("defaults to 1 GHz: one tick per nanosecond", () => {
    const clock = new ManualClock();
    const tsc = new TimeStampCounter(clock);
    expect(tsc.hz).toBe(DEFAULT_TSC_HZ);
    expect(tsc.read()).toBe(0);
    clock.advanceBy(1_234_567);
    expect(tsc.read()).toBe(1_234_567);
  });

  it("counts hz ticks per second of machine time", () => {
    for (const hz of [1_000_000, 2_500_000_000, 3_000_007_000, 10_000_000_000]) {
      const clock = new ManualClock();
      const tsc = new TimeStampCounter(clock, hz);
      clock.advanceBy(1_000_000); // 1 ms
      expect(tsc.read(), `${hz} Hz`).toBe(Math.floor(hz / 1000));
      clock.advanceBy(0.5); // half a nanosecond more
      expect(tsc.read(), `${hz} Hz`).toBe(Number((BigInt(hz) * 2_000_001n) / 2_000_000_000n));
    }
  });

  it("is exact far beyond 2^53 ns * Hz, and refuses rates that are not whole kHz", () => {
    const clock = new ManualClock();
    const tsc = new TimeStampCounter(clock, 2_399_999_000);
    const ns = 86_400_000_000_123; // a day and a bit
    clock.advanceBy(ns);
    expect(tsc.read()).toBe(Number((BigInt(ns) * 2_399_999_000n) / 1_000_000_000n));
    expect(() => new TimeStampCounter(clock, 3_000_000_007)).toThrow(/whole number of kHz/);
  });

  it("follows the clock and never goes backwards", () => {
    const clock = new ManualClock();
    const tsc = new TimeStampCounter(clock, 2_400_000_000);
    let previous = tsc.read();
    for (let i = 1; i <= 1000; i++) {
      clock.advanceBy((i * 7919) % 1000);
      const now = tsc.read();
      expect(now).toBeGreaterThanOrEqual(previous);
      previous = now;
    }
    expect(previous).toBe(Number((BigInt(clock.now()) * 24n) / 10n));
  });

  it("refuses rates outside 1 MHz..10 GHz and non-integer rates", () => {
    for (const hz of [0, 999_999, 10_000_000_001, 1.5e9 + 0.5, NaN, Infinity]) {
      expect(() => new TimeStampCounter(new ManualClock(), hz), String(hz)).toThrow(RangeError);
    }
  });
});

describe("WRMSR 0x10", () => {
  it("reads back the low 32 bits written, then advances at the rate", () => {
    const clock = new ManualClock();
    const tsc = new TimeStampCounter(clock, 2_000_000_000);
    clock.advanceBy(987_654);
    tsc.write(0xabcd_1234_5678n);
    expect(tsc.read()).toBe(0x1234_5678);
    clock.advanceBy(1000);
    expect(tsc.read()).toBe(0x1234_5678 + 2000);
  });

  it("can move the counter back to zero or below its clock-derived value", () => {
    const clock = new ManualClock();
    const tsc = new TimeStampCounter(clock);
    clock.advanceBy(5_000_000);
    tsc.write(0n);
    expect(tsc.read()).toBe(0);
    clock.advanceBy(10);
    expect(tsc.read()).toBe(10);
    tsc.write(0xffff_ffff_ffff_ffffn);
    expect(tsc.read()).toBe(0xffff_ffff);
    clock.advanceBy(3);
    expect(tsc.read()).toBe(0xffff_ffff + 3); // the counter is 64 bits wide
  });

  it("a later write replaces the earlier offset", () => {
    const clock = new ManualClock();
    const tsc = new TimeStampCounter(clock);
    tsc.write(1_000_000n);
    clock.advanceBy(50);
    tsc.write(7n);
    expect(tsc.read()).toBe(7);
  });
});

describe("pause", () => {
  it("a frozen clock freezes the counter; it resumes where it stopped", () => {
    let hostMs = 1000;
    const clock = new RealtimeClock(() => hostMs);
    const tsc = new TimeStampCounter(clock);
    clock.resume();
    hostMs += 2;
    expect(tsc.read()).toBe(2_000_000);
    clock.pause();
    hostMs += 5000;
    expect(tsc.read()).toBe(2_000_000);
    tsc.write(100n); // the offset is relative to frozen time too
    hostMs += 5000;
    expect(tsc.read()).toBe(100);
    clock.resume();
    hostMs += 1;
    expect(tsc.read()).toBe(100 + 1_000_000);
  });
});

describe("save and restore", () => {
  it("a restored counter on a clock set to the saved time reads the same, through JSON", () => {
    const source = new ManualClock();
    const tsc = new TimeStampCounter(source, 3_000_000_000);
    source.advanceBy(4_000_000);
    tsc.write(0x4242n);
    source.advanceBy(777);
    const saved = JSON.parse(JSON.stringify(tsc.save())) as unknown;

    const target = new RealtimeClock(() => 0);
    target.set(source.now());
    const restored = new TimeStampCounter(target, 3_000_000_000);
    restoreComponent(restored, saved);
    expect(restored.read()).toBe(tsc.read());
    expect(restored.save()).toEqual(tsc.save());
  });

  it("keeps a negative offset", () => {
    const clock = new ManualClock();
    clock.advanceBy(1_000_000);
    const tsc = new TimeStampCounter(clock);
    tsc.write(5n);
    expect(tsc.save().offset).toBe(5 - 1_000_000);
    const other = new TimeStampCounter(clock);
    restoreComponent(other, tsc.save());
    expect(other.read()).toBe(5);
  });

  it("rejects malformed state, another rate and non-integer offsets, changing nothing", () => {
    const clock = new ManualClock();
    clock.advanceBy(10_000);
    const tsc = new TimeStampCounter(clock);
    tsc.write(1234n);
    const good = tsc.save();
    const cases: Array<[unknown, typeof TypeError | typeof RangeError]> = [
      [null, TypeError],
      [[good], TypeError],
      [{ ...good, version: TSC_STATE_VERSION + 1 }, RangeError],
      [{ ...good, hz: 2_000_000_000 }, RangeError],
      [{ ...good, hz: "1000000000" }, TypeError],
      [{ ...good, offset: 0.5 }, RangeError],
      [{ ...good, offset: NaN }, TypeError],
      [{ ...good, offset: 2 ** 60 }, RangeError],
      [{ ...good, offset: "0" }, TypeError],
      [{ version: TSC_STATE_VERSION, hz: DEFAULT_TSC_HZ }, TypeError],
    ];
    for (const [state, error] of cases) {
      const target = new TimeStampCounter(clock);
      target.write(99n);
      expect(() => restoreComponent(target, state), JSON.stringify(state)).toThrow(error);
      expect(target.read(), JSON.stringify(state)).toBe(99);
    }
  });
});
