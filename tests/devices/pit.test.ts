import { describe, expect, it } from "vitest";
import { PIT_HZ, tickAt, timeOfTick } from "../../src/devices/pit/timebase.ts";
import { pitBoard } from "../helpers/pit-board.ts";

const CONTROL = 0x43;
const PORT_B = 0x61;

// Control words: SC1 SC0 RW1 RW0 M2 M1 M0 BCD.
function controlWord(counter: number, access: number, mode: number, bcd = false): number {
  return (counter << 6) | (access << 4) | (mode << 1) | (bcd ? 1 : 0);
}
const LSB = 1;
const MSB = 2;
const LSB_MSB = 3;

/** Read-back command bits: 11, COUNT# STATUS# (active low), counter select bits. */
function readBack(counters: number[], count: boolean, status: boolean): number {
  const select = counters.reduce((bits, c) => bits | (2 << c), 0);
  return 0xc0 | (count ? 0 : 0x20) | (status ? 0 : 0x10) | select;
}

function harness() {
  const board = pitBoard();
  const { clock, pit, io, risingEdgeTicks, irqLevel } = board;
  expect(irqLevel()).toBe(true); // OUT0 waits high at power-on and the PIT drives IRQ0 to match
  risingEdgeTicks.length = 0;

  const tick = () => tickAt(clock.now());
  const goToTick = (n: number) => clock.advanceBy(timeOfTick(n) - clock.now());
  const step = (pulses = 1) => goToTick(tick() + pulses);
  const program = (counter: number, access: number, mode: number, count: number, bcd = false) => {
    io.write(CONTROL, 1, controlWord(counter, access, mode, bcd));
    if (access !== MSB) io.write(0x40 + counter, 1, count & 0xff);
    if (access !== LSB) io.write(0x40 + counter, 1, count >> 8);
  };
  const status = (counter: number) => {
    io.write(CONTROL, 1, readBack([counter], false, true));
    return io.read(0x40 + counter, 1);
  };
  const out = (counter: number) => (status(counter) & 0x80) !== 0;
  /** Latches and reads a two-byte count. */
  const count = (counter: number) => {
    io.write(CONTROL, 1, counter << 6);
    return io.read(0x40 + counter, 1) | (io.read(0x40 + counter, 1) << 8);
  };
  /** Plays the run loop: sleep until each deadline and advance, up to tick `end`. */
  const runTo = (end: number) => {
    const endTime = timeOfTick(end);
    for (;;) {
      const deadline = pit.nextDeadline();
      if (deadline > endTime) break;
      expect(deadline).toBeGreaterThan(clock.now());
      clock.advanceBy(deadline - clock.now());
      pit.advance(clock.now());
    }
    clock.advanceBy(endTime - clock.now());
    pit.advance(clock.now());
  };
  return {
    clock,
    pit,
    io,
    risingEdgeTicks,
    irqLevel,
    tick,
    goToTick,
    step,
    program,
    status,
    out,
    count,
    runTo,
  };
}

describe("8254 mode 2 (rate generator)", () => {
  it("raises IRQ0 every 11932 input clocks (about 100 Hz), starting one clock after the count", () => {
    const t = harness();
    t.goToTick(1000);
    const period = 11932;
    t.program(0, LSB_MSB, 2, period);
    const loaded = t.tick() + 1; // the count reaches the counting element on the next pulse
    const oneSecond = tickAt(1e9);
    t.runTo(oneSecond);
    const expected: number[] = [];
    for (let edge = loaded + period; edge <= oneSecond; edge += period) expected.push(edge);
    expect(t.risingEdgeTicks).toEqual(expected);
    expect(expected.length).toBe(Math.floor((oneSecond - loaded) / period));
    expect(PIT_HZ / period).toBeCloseTo(100, 1);
    expect(t.pit.nextDeadline()).toBe(timeOfTick(loaded + (expected.length + 1) * period));
  });

  it("counts N..1 and drives OUT low only while the count is 1", () => {
    const t = harness();
    const n = 5;
    t.program(0, LSB_MSB, 2, n);
    t.step(); // load pulse
    const seen: Array<[number, boolean]> = [];
    for (let i = 0; i < 2 * n; i++) {
      seen.push([t.count(0), t.out(0)]);
      t.step();
    }
    const oneCycle: Array<[number, boolean]> = [5, 4, 3, 2, 1].map((c) => [c, c !== 1]);
    expect(seen).toEqual([...oneCycle, ...oneCycle]);
  });

  it("produces one edge, not several, when the run loop comes late", () => {
    const t = harness();
    t.program(0, LSB_MSB, 2, 100);
    t.step(1 + 100 * 7 + 50);
    t.pit.advance(t.clock.now());
    expect(t.risingEdgeTicks).toHaveLength(1);
    expect(t.irqLevel()).toBe(true);
  });

  it("takes a count written mid-cycle at the end of the cycle", () => {
    const t = harness();
    t.program(0, LSB_MSB, 2, 100);
    const loaded = t.tick() + 1;
    t.goToTick(loaded + 40);
    t.io.write(0x40, 1, 50);
    t.io.write(0x40, 1, 0);
    expect(t.status(0) & 0x40).toBe(0x40); // null count until the reload
    expect(t.count(0)).toBe(60);
    t.runTo(loaded + 100 + 50 * 3);
    expect(t.risingEdgeTicks).toEqual([loaded + 100, loaded + 150, loaded + 200, loaded + 250]);
    expect(t.status(0) & 0x40).toBe(0);
  });

  it("stops while gate 2 is low (OUT forced high) and restarts on the gate's rising edge", () => {
    const t = harness();
    t.io.write(PORT_B, 1, 0x01);
    t.program(2, LSB_MSB, 2, 10);
    t.step(1 + 9); // count is 1: OUT low
    expect(t.out(2)).toBe(false);
    t.io.write(PORT_B, 1, 0x00);
    expect(t.out(2)).toBe(true); // immediately, no clock pulse needed
    const frozen = t.count(2);
    t.step(25);
    expect(t.count(2)).toBe(frozen);
    t.io.write(PORT_B, 1, 0x01);
    const restart = t.tick();
    t.step();
    expect(t.count(2)).toBe(10); // reloaded on the pulse after the trigger
    t.goToTick(restart + 1 + 9);
    expect(t.out(2)).toBe(false);
    t.step();
    expect(t.out(2)).toBe(true);
  });
});

describe("8254 mode 0 (interrupt on terminal count)", () => {
  it("drops OUT at the control word and raises it N + 1 clocks after the count is written", () => {
    const t = harness();
    t.io.write(CONTROL, 1, controlWord(0, LSB_MSB, 2));
    t.step();
    expect(t.out(0)).toBe(true);
    t.io.write(CONTROL, 1, controlWord(0, LSB_MSB, 0));
    expect(t.out(0)).toBe(false);
    expect(t.irqLevel()).toBe(false);
    const n = 1000;
    t.io.write(0x40, 1, n & 0xff);
    t.io.write(0x40, 1, n >> 8);
    const written = t.tick();
    expect(t.pit.nextDeadline()).toBe(timeOfTick(written + n + 1));
    t.goToTick(written + n);
    expect(t.out(0)).toBe(false);
    expect(t.count(0)).toBe(1);
    t.step();
    expect(t.out(0)).toBe(true);
    expect(t.count(0)).toBe(0);
    t.pit.advance(t.clock.now());
    const edges = t.risingEdgeTicks.length;
    // OUT stays high while the element wraps around and keeps counting.
    t.step();
    expect(t.count(0)).toBe(0xffff);
    expect(t.pit.nextDeadline()).toBe(Infinity);
    t.runTo(t.tick() + 3 * 65536);
    expect(t.out(0)).toBe(true);
    expect(t.risingEdgeTicks.length).toBe(edges);
  });

  it("treats a count of 0 as 65536", () => {
    const t = harness();
    t.program(0, LSB_MSB, 0, 0);
    const written = t.tick();
    t.runTo(written + 65536);
    expect(t.out(0)).toBe(false);
    t.runTo(written + 65537);
    expect(t.risingEdgeTicks).toEqual([written + 65537]);
  });

  it("stops counting on the first byte of a new count and restarts from the second", () => {
    const t = harness();
    t.program(0, LSB_MSB, 0, 300);
    t.goToTick(t.tick() + 1 + 100);
    expect(t.count(0)).toBe(200);
    t.io.write(0x40, 1, 0x50); // LSB of 0x0150
    expect(t.out(0)).toBe(false);
    t.step(30);
    expect(t.count(0)).toBe(200); // held
    t.io.write(0x40, 1, 0x01);
    const written = t.tick();
    t.runTo(written + 0x150);
    expect(t.out(0)).toBe(false);
    t.runTo(written + 0x151);
    expect(t.risingEdgeTicks).toEqual([written + 0x151]);
  });

  it("pauses while its gate is low (gate 2) without changing OUT", () => {
    const t = harness();
    t.io.write(PORT_B, 1, 0x01);
    t.program(2, LSB_MSB, 0, 100);
    t.step(1 + 40);
    expect(t.count(2)).toBe(60);
    t.io.write(PORT_B, 1, 0x00);
    t.step(500);
    expect(t.count(2)).toBe(60);
    expect(t.out(2)).toBe(false);
    t.io.write(PORT_B, 1, 0x01);
    t.step(60);
    expect(t.out(2)).toBe(true);
  });
});

describe("8254 mode 3 (square wave)", () => {
  const cases = [
    { n: 6, values: [6, 4, 2, 6, 4, 2] },
    { n: 5, values: [4, 2, 0, 4, 2] },
  ];
  for (const { n, values } of cases) {
    it(`with count ${n}: high ceil(N/2), low floor(N/2) clocks, counting down by two`, () => {
      const t = harness();
      t.program(0, LSB_MSB, 3, n);
      const loaded = t.tick() + 1;
      t.goToTick(loaded);
      const outs: boolean[] = [];
      const counts: number[] = [];
      for (let i = 0; i < 3 * n; i++) {
        outs.push(t.out(0));
        counts.push(t.count(0));
        t.step();
      }
      const high = Math.ceil(n / 2);
      const cycle = Array.from({ length: n }, (_, i) => i < high);
      expect(outs).toEqual([...cycle, ...cycle, ...cycle]);
      expect(counts).toEqual([...values, ...values, ...values]);
    });
  }

  it("rises every N clocks on IRQ0 and takes a new count at the end of a half-cycle", () => {
    const t = harness();
    t.program(0, LSB_MSB, 3, 1000);
    const loaded = t.tick() + 1;
    t.runTo(loaded + 2000);
    expect(t.risingEdgeTicks).toEqual([loaded + 1000, loaded + 2000]);
    t.goToTick(loaded + 2100); // 100 clocks into a high half of 500
    t.io.write(0x40, 1, 400 & 0xff);
    t.io.write(0x40, 1, 400 >> 8);
    // This high half ends at +2500; the low half of the new count lasts 200, then 400-clock cycles.
    t.runTo(loaded + 2500 + 200 + 400);
    expect(t.risingEdgeTicks.slice(2)).toEqual([loaded + 2700, loaded + 3100]);
  });
});

describe("8254 modes 1, 4 and 5", () => {
  it("mode 1: a gate trigger makes OUT low for N clocks, and a retrigger restarts it", () => {
    const t = harness();
    t.program(2, LSB_MSB, 1, 50);
    t.step(10);
    expect(t.out(2)).toBe(true); // waits for a trigger
    t.io.write(PORT_B, 1, 0x01);
    const trigger = t.tick();
    t.step();
    expect(t.out(2)).toBe(false);
    expect(t.count(2)).toBe(50);
    t.goToTick(trigger + 30);
    t.io.write(PORT_B, 1, 0x00); // the gate level does not matter
    t.io.write(PORT_B, 1, 0x01);
    const retrigger = t.tick();
    t.goToTick(retrigger + 50);
    expect(t.out(2)).toBe(false);
    t.step();
    expect(t.out(2)).toBe(true);
  });

  it("mode 4: OUT strobes low for one clock N + 1 clocks after the count is written", () => {
    const t = harness();
    t.program(0, LSB_MSB, 4, 20);
    const written = t.tick();
    expect(t.pit.nextDeadline()).toBe(timeOfTick(written + 22));
    t.goToTick(written + 20);
    expect(t.out(0)).toBe(true);
    t.step();
    expect(t.out(0)).toBe(false);
    t.step();
    expect(t.out(0)).toBe(true);
    t.pit.advance(t.clock.now());
    expect(t.risingEdgeTicks).toEqual([written + 22]);
    expect(t.pit.nextDeadline()).toBe(Infinity);
  });

  it("mode 5: a gate trigger starts the count; the strobe comes N + 1 clocks later", () => {
    const t = harness();
    t.program(2, LSB_MSB, 5, 8);
    t.step(20);
    expect(t.out(2)).toBe(true);
    t.io.write(PORT_B, 1, 0x01);
    const trigger = t.tick();
    t.goToTick(trigger + 8);
    expect(t.out(2)).toBe(true);
    t.step();
    expect(t.out(2)).toBe(false);
    t.step();
    expect(t.out(2)).toBe(true);
  });
});

describe("8254 reads and writes", () => {
  it("the counter latch freezes the value while the counter keeps running", () => {
    const t = harness();
    t.program(0, LSB_MSB, 2, 0x1234);
    t.step(1 + 0x34);
    t.io.write(CONTROL, 1, 0x00);
    t.step(0x100);
    t.io.write(CONTROL, 1, 0x00); // ignored: the first latch is still unread
    expect(t.io.read(0x40, 1)).toBe(0x00);
    t.step(0x100);
    expect(t.io.read(0x40, 1)).toBe(0x12);
    // Released: the next reads follow the counter again.
    expect(t.io.read(0x40, 1) | (t.io.read(0x40, 1) << 8)).toBe(0x1234 - 0x34 - 0x200);
  });

  it("LSB/MSB flip-flops: one-byte access modes, and reads and writes that interleave", () => {
    const t = harness();
    t.program(1, LSB, 0, 0x80);
    t.step(1 + 0x10);
    expect(t.io.read(0x41, 1)).toBe(0x70); // LSB only, MSB of the count is 0
    expect(t.io.read(0x41, 1)).toBe(0x70);
    t.program(1, MSB, 0, 0x0200);
    t.step(1 + 1);
    expect(t.io.read(0x41, 1)).toBe(0x01); // 0x01ff: the MSB
    t.program(1, LSB_MSB, 4, 0x4000);
    t.step(1);
    expect(t.io.read(0x41, 1)).toBe(0x00); // LSB
    t.io.write(0x41, 1, 0x00); // LSB of a new count
    expect(t.io.read(0x41, 1)).toBe(0x40); // the read flip-flop is separate
    t.io.write(0x41, 1, 0x20); // MSB: count 0x2000
    t.step();
    expect(t.count(1)).toBe(0x2000);
  });

  it("a new control word releases a latch and resets the byte pointers", () => {
    const t = harness();
    t.program(0, LSB_MSB, 2, 0x1000);
    t.step(2);
    t.io.write(CONTROL, 1, 0x00);
    expect(t.io.read(0x40, 1)).toBe(0xff); // LSB of 0x0fff; MSB left unread
    t.program(0, LSB_MSB, 2, 0x3000);
    t.step(1);
    expect(t.io.read(0x40, 1)).toBe(0x00);
    expect(t.io.read(0x40, 1)).toBe(0x30);
  });

  it("read-back latches status (OUT, null count, RW, mode, BCD) and counts of several counters", () => {
    const t = harness();
    t.io.write(PORT_B, 1, 0x01);
    t.io.write(CONTROL, 1, controlWord(0, LSB_MSB, 2));
    t.io.write(CONTROL, 1, controlWord(2, LSB, 0, true));
    // Before any count: null count set; mode 2 OUT high, mode 0 OUT low.
    expect(t.status(0)).toBe(0x80 | 0x40 | 0x34);
    expect(t.status(2)).toBe(0x40 | 0x11);
    t.io.write(0x40, 1, 0x00);
    t.io.write(0x40, 1, 0x10);
    expect(t.status(0) & 0x40).toBe(0x40); // written, not loaded yet
    t.io.write(0x42, 1, 0x99);
    t.step(1 + 0x10);
    t.io.write(CONTROL, 1, readBack([0, 2], true, true));
    t.step(0x100);
    t.io.write(CONTROL, 1, readBack([0, 2], false, true)); // ignored: status still latched
    expect(t.io.read(0x40, 1)).toBe(0x80 | 0x34); // status first: OUT high, null count clear
    expect(t.io.read(0x40, 1) | (t.io.read(0x40, 1) << 8)).toBe(0x1000 - 0x10);
    expect(t.io.read(0x42, 1)).toBe(0x11);
    expect(t.io.read(0x42, 1)).toBe(0x83); // BCD 99 - 16 = 83, latched before the 0x100 clocks
    // Count only: the status is not latched, so the next read is the count.
    t.io.write(CONTROL, 1, readBack([1], true, false));
    expect(t.io.read(0x41, 1)).toBe(0x00);
  });
});

describe("8254 BCD counting", () => {
  it("counts down in decimal digits and wraps from 0000 to 9999", () => {
    const t = harness();
    t.program(0, LSB_MSB, 0, 0x0100, true);
    t.step(1 + 37);
    expect(t.count(0)).toBe(0x0063); // 100 - 37
    t.step(63);
    expect(t.count(0)).toBe(0x0000);
    expect(t.out(0)).toBe(true);
    t.step();
    expect(t.count(0)).toBe(0x9999);
  });

  it("treats a BCD count of 0 as 10000", () => {
    const t = harness();
    t.program(0, LSB_MSB, 2, 0, true);
    const loaded = t.tick() + 1;
    t.goToTick(loaded + 1);
    expect(t.count(0)).toBe(0x9999);
    t.goToTick(loaded + 1234);
    expect(t.count(0)).toBe(0x8766);
    t.runTo(loaded + 20000);
    expect(t.risingEdgeTicks).toEqual([loaded + 10000, loaded + 20000]);
  });
});

describe("port 0x61 (system control port B)", () => {
  it("TSC calibration pattern: channel 2 mode 0 armed with the gate low, then poll OUT2", () => {
    const t = harness();
    const latch = Math.round(PIT_HZ / 100);
    t.io.write(PORT_B, 1, t.io.read(PORT_B, 1) & ~0x03);
    t.io.write(CONTROL, 1, 0xb0);
    t.io.write(0x42, 1, latch & 0xff);
    t.io.write(0x42, 1, latch >> 8);
    t.step(5000);
    expect(t.io.read(PORT_B, 1) & 0x20).toBe(0); // no counting with the gate low
    t.io.write(PORT_B, 1, (t.io.read(PORT_B, 1) & ~0x02) | 0x01);
    const raised = t.tick();
    let polls = 0;
    while ((t.io.read(PORT_B, 1) & 0x20) === 0) {
      t.clock.advanceBy(337); // a poll loop of a few hundred ns per iteration
      polls++;
    }
    expect(t.tick()).toBe(raised + latch);
    expect(polls).toBeGreaterThan(0);
  });

  it("Linux's pit_calibrate_tsc order: gate high first, OUT2 high N + 1 clocks after the count", () => {
    const t = harness();
    t.io.write(PORT_B, 1, (t.io.read(PORT_B, 1) & ~0x02) | 0x01);
    t.io.write(CONTROL, 1, 0xb0);
    t.io.write(0x42, 1, 0x9b);
    t.io.write(0x42, 1, 0x2e);
    const written = t.tick();
    t.goToTick(written + 0x2e9b);
    expect(t.io.read(PORT_B, 1) & 0x20).toBe(0);
    t.step();
    expect(t.io.read(PORT_B, 1) & 0x20).toBe(0x20);
  });

  it("reads back bits 0-3 as written, bits 6-7 as 0, and does not let bits 4-5 be written", () => {
    const t = harness();
    t.io.write(PORT_B, 1, 0xff);
    expect(t.io.read(PORT_B, 1) & 0xcf).toBe(0x0f);
    expect(t.pit.speakerEnabled).toBe(true);
    t.io.write(PORT_B, 1, 0x0c);
    expect(t.io.read(PORT_B, 1) & 0xcf).toBe(0x0c);
    expect(t.pit.speakerEnabled).toBe(false);
    t.io.write(CONTROL, 1, 0xb0); // counter 2, mode 0: OUT2 low
    t.goToTick(18 * 3 + 1); // the third refresh toggle has happened
    expect(t.io.read(PORT_B, 1) & 0x30).toBe(0x10);
    t.io.write(CONTROL, 1, 0xb4); // mode 2: OUT2 high
    t.goToTick(18 * 4);
    expect(t.io.read(PORT_B, 1) & 0x30).toBe(0x20);
  });

  it("toggles the refresh bit every 18 input clocks (15.085 us)", () => {
    const t = harness();
    const flips: number[] = [];
    let last = t.io.read(PORT_B, 1) & 0x10;
    const end = timeOfTick(tickAt(1e6)); // 1 ms
    while (t.clock.now() < end) {
      t.clock.advanceBy(100);
      const bit = t.io.read(PORT_B, 1) & 0x10;
      if (bit !== last) flips.push(t.tick());
      last = bit;
    }
    const gaps = flips.slice(1).map((tick, i) => tick - flips[i]!);
    expect(new Set(gaps)).toEqual(new Set([18]));
    expect(flips.length).toBe(Math.floor(tickAt(1e6) / 18));
    expect((18 / PIT_HZ) * 1e6).toBeCloseTo(15.086, 3);
  });
});
