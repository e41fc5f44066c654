import { describe, expect, it } from "vitest";
import type { PitState } from "../../src/devices/pit/state.ts";
import { tickAt, timeOfTick } from "../../src/devices/pit/timebase.ts";
import { ManualClock } from "../../src/platform/clock.ts";
import { pitBoard } from "../helpers/pit-board.ts";
import { restoreComponent } from "../../src/platform/stateful.ts";

const CONTROL = 0x43;
const PORT_B = 0x61;

type Board = ReturnType<typeof pitBoard>;

/** A machine's worth of programming, stopped with every kind of half-finished access pending. */
function busyBoard(): Board {
  const b = pitBoard();
  const { io, clock } = b;
  clock.advanceBy(123_456_789);
  io.write(CONTROL, 1, 0x34); // counter 0: mode 2, 11932 (the 100 Hz tick)
  io.write(0x40, 1, 11932 & 0xff);
  io.write(0x40, 1, 11932 >> 8);
  io.write(CONTROL, 1, 0x77); // counter 1: mode 3, BCD 0150
  io.write(0x41, 1, 0x50);
  io.write(0x41, 1, 0x01);
  io.write(PORT_B, 1, 0x03);
  io.write(CONTROL, 1, 0xb0); // counter 2: mode 0, 50000
  io.write(0x42, 1, 50000 & 0xff);
  io.write(0x42, 1, 50000 >> 8);
  clock.advanceBy(7_654_321); // mid-period for all three
  b.pit.advance(clock.now());
  io.write(CONTROL, 1, 0x00); // counter 0: latch, LSB read, MSB still to read
  io.read(0x40, 1);
  io.write(CONTROL, 1, 0x77); // counter 1: reprogrammed, the count loads on the next clock
  io.write(0x41, 1, 0x00);
  io.write(0x41, 1, 0x01);
  io.write(CONTROL, 1, 0xe4); // counter 1: status latched, unread
  io.write(0x42, 1, 0x10); // counter 2: LSB of a new count, MSB still to come
  return b;
}

function restoredCopy(original: Board): Board {
  const clock = new ManualClock();
  clock.advanceBy(original.clock.now());
  const copy = pitBoard(clock);
  restoreComponent(copy.pit, JSON.parse(JSON.stringify(original.pit.save())));
  copy.risingEdgeTicks.length = 0;
  return copy;
}

/** The same guest activity on a board; returns everything the guest could observe. */
function exercise(b: Board): number[] {
  const seen: number[] = [];
  const { io, clock, pit } = b;
  const readAll = () => {
    seen.push(io.read(0x40, 1), io.read(0x41, 1), io.read(0x42, 1), io.read(PORT_B, 1));
  };
  readAll();
  io.write(0x42, 1, 0x00); // MSB of counter 2's count
  for (let i = 0; i < 40; i++) {
    clock.advanceBy(1_000_003);
    if (i % 5 === 0) readAll();
    const deadline = pit.nextDeadline();
    seen.push(deadline);
    pit.advance(clock.now());
  }
  io.write(PORT_B, 1, 0x02); // gate 2 low
  clock.advanceBy(5_000_000);
  readAll();
  io.write(CONTROL, 1, 0xce); // latch count and status of all three
  readAll();
  readAll();
  return seen;
}

describe("8254 save and restore", () => {
  it("a PIT restored mid-period on a clock at the same time behaves identically", () => {
    const original = busyBoard();
    const copy = restoredCopy(original);
    expect(copy.irqLevel()).toBe(original.irqLevel());
    original.risingEdgeTicks.length = 0;
    const originalSeen = exercise(original);
    const copySeen = exercise(copy);
    expect(copySeen).toEqual(originalSeen);
    expect(copy.risingEdgeTicks).toEqual(original.risingEdgeTicks);
    // The 100 Hz tick kept running through the 45 ms exercised.
    expect(original.risingEdgeTicks.length).toBeGreaterThanOrEqual(4);
    expect(copy.pit.save()).toEqual(original.pit.save());
  });

  it("saves plain data that later activity does not change", () => {
    const b = busyBoard();
    const saved = b.pit.save();
    const text = JSON.stringify(saved);
    exercise(b);
    expect(JSON.stringify(saved)).toBe(text);
    expect(JSON.parse(text)).toEqual(saved);
  });

  it("keeps the phase of counter 0 exactly across a restore", () => {
    const original = busyBoard();
    const copy = restoredCopy(original);
    const next = original.pit.nextDeadline();
    expect(copy.pit.nextDeadline()).toBe(next);
    for (const b of [original, copy]) {
      b.clock.advanceBy(next - b.clock.now());
      b.pit.advance(b.clock.now());
    }
    expect(copy.risingEdgeTicks).toEqual([tickAt(next)]);
    expect(original.risingEdgeTicks.at(-1)).toBe(tickAt(next));
    expect(timeOfTick(tickAt(next))).toBe(next);
  });
});

describe("8254 restore rejects malformed states", () => {
  type Corruption = [string, (s: PitState) => unknown, ErrorConstructor, RegExp];
  const cases: Corruption[] = [
    ["a missing state", () => null, TypeError, /PIT state/],
    ["another version", (s) => ({ ...s, version: 2 }), RangeError, /version/],
    ["a fractional tick", (s) => ({ ...s, tick: 1.5 }), TypeError, /tick/],
    ["a negative tick", (s) => ({ ...s, tick: -1 }), RangeError, /tick/],
    ["port B bits 4-7", (s) => ({ ...s, portB: 0x13 }), RangeError, /portB/],
    ["two counters", (s) => ({ ...s, counters: s.counters.slice(0, 2) }), RangeError, /counters/],
    ["counters not in an array", (s) => ({ ...s, counters: {} }), TypeError, /counters/],
    [
      "a count register above 16 bits",
      (s) => withCounter(s, 0, { countRegister: 0x10000 }),
      RangeError,
      /counters\[0\]\.countRegister/,
    ],
    [
      "a flag that is not a boolean",
      (s) => withCounter(s, 1, { nullCount: "yes" }),
      TypeError,
      /counters\[1\]\.nullCount/,
    ],
    [
      "a latched count that is a string",
      (s) => withCounter(s, 0, { latchedCount: "0x12" }),
      TypeError,
      /latchedCount/,
    ],
    [
      "RW = 00 in the control bits",
      (s) => withCounter(s, 2, { control: 0x00 }),
      RangeError,
      /counters\[2\]\.control/,
    ],
    [
      "a periodic phase in mode 0",
      (s) => withCounter(s, 2, { phase: { kind: "periodic", period: 10, position: 0 } }),
      RangeError,
      /counters\[2\]\.phase/,
    ],
    [
      "a position past the period",
      (s) => withCounter(s, 0, { phase: { kind: "periodic", period: 10, position: 10 } }),
      RangeError,
      /position/,
    ],
    [
      "a BCD element of 10000",
      (s) => withCounter(s, 1, { phase: { kind: "held", element: 10000, out: true } }),
      RangeError,
      /counters\[1\]\.phase\.element/,
    ],
    [
      "an unknown phase",
      (s) => withCounter(s, 0, { phase: { kind: "running" } }),
      TypeError,
      /kind/,
    ],
    [
      "a running mode 2 counter 2 with its gate low",
      (s) => ({
        ...withCounter(s, 2, {
          control: 0x34,
          phase: { kind: "periodic", period: 10, position: 3 },
        }),
        portB: 0,
      }),
      RangeError,
      /gate/,
    ],
  ];

  for (const [name, corrupt, errorType, message] of cases) {
    it(`rejects ${name} and leaves the PIT as it was`, () => {
      const b = busyBoard();
      const before = b.pit.save();
      const levelBefore = b.irqLevel();
      const bad = corrupt(JSON.parse(JSON.stringify(before)) as PitState);
      expect(() => restoreComponent(b.pit, bad)).toThrow(errorType);
      expect(() => restoreComponent(b.pit, bad)).toThrow(message);
      expect(b.pit.save()).toEqual(before);
      expect(b.irqLevel()).toBe(levelBefore);
    });
  }

  it("accepts the state it saved, and the corruptions above start from a valid one", () => {
    const b = busyBoard();
    const saved = JSON.parse(JSON.stringify(b.pit.save())) as PitState;
    expect(() => restoreComponent(b.pit, saved)).not.toThrow();
    expect(b.pit.save()).toEqual(saved);
  });
});

function withCounter(
  state: PitState,
  index: number,
  change: Record<string, unknown>,
): Record<string, unknown> {
  const counters = state.counters.map((c, i) => (i === index ? { ...c, ...change } : c));
  return { ...state, counters };
}
