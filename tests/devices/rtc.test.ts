import { describe, expect, it } from "vitest";
import { CmosRtc } from "../../src/devices/rtc/device.ts";
import { ManualClock } from "../../src/platform/clock.ts";
import { IoBus } from "../../src/platform/io-bus.ts";
import { restoreComponent } from "../../src/platform/stateful.ts";

const SEC = 0x00;
const SEC_ALARM = 0x01;
const MIN = 0x02;
const MIN_ALARM = 0x03;
const HOUR = 0x04;
const HOUR_ALARM = 0x05;
const WEEKDAY = 0x06;
const DAY = 0x07;
const MONTH = 0x08;
const YEAR = 0x09;
const REG_A = 0x0a;
const REG_B = 0x0b;
const REG_C = 0x0c;
const REG_D = 0x0d;
const CENTURY = 0x32;

const UIP = 0x80;
const IRQF = 0x80;
const PF = 0x40;
const AF = 0x20;
const UF = 0x10;

const MS = 1e6;
const SECOND = 1e9;

// Thursday 29 February 2024, 13:45:56.250 UTC: the first update is 750 ms away.
const START = Date.UTC(2024, 1, 29, 13, 45, 56, 250);
const FIRST_UPDATE = 750 * MS;

function setup(wallTimeMs: () => number = () => START) {
  const clock = new ManualClock();
  const edges: number[] = [];
  let level = false;
  const irq = {
    set(next: boolean) {
      if (next && !level) edges.push(clock.now());
      level = next;
    },
  };
  const rtc = new CmosRtc({ clock, irq, wallTimeMs });
  const io = new IoBus();
  rtc.attach(io);
  const read = (register: number) => {
    io.write(0x70, 1, register);
    return io.read(0x71, 1);
  };
  const write = (register: number, value: number) => {
    io.write(0x70, 1, register);
    io.write(0x71, 1, value);
  };
  const advanceTo = (time: number) => {
    clock.advanceBy(time - clock.now());
    rtc.advance(clock.now());
  };
  /** The machine's run loop: sleeps to each deadline; the IRQ8 handler reads REG C. */
  const runLoop = (until: number): number[] => {
    const regC: number[] = [];
    for (let guard = 0; ; guard++) {
      if (guard > 100_000) throw new Error("run loop does not make progress");
      if (level) regC.push(read(REG_C));
      const deadline = rtc.nextDeadline();
      if (deadline > until) break;
      advanceTo(Math.max(deadline, clock.now()));
    }
    advanceTo(until);
    return regC;
  };
  const timeRegisters = () => [SEC, MIN, HOUR, WEEKDAY, DAY, MONTH, YEAR, CENTURY].map(read);
  return {
    clock,
    rtc,
    io,
    read,
    write,
    advanceTo,
    runLoop,
    timeRegisters,
    edges,
    level: () => level,
  };
}

describe("RTC time and date registers", () => {
  it("shows the host's wall time at construction in 24-hour BCD", () => {
    const { read, timeRegisters } = setup();
    // sec, min, hour, weekday (1 = Sunday, so Thursday = 5), day, month, year, century
    expect(timeRegisters()).toEqual([0x56, 0x45, 0x13, 5, 0x29, 0x02, 0x24, 0x20]);
    expect(read(REG_A)).toBe(0x26);
    expect(read(REG_B)).toBe(0x02);
    expect(read(REG_D)).toBe(0x80);
  });

  it("shows the same time in binary when DM is set", () => {
    const { write, timeRegisters } = setup();
    write(REG_B, 0x06);
    expect(timeRegisters()).toEqual([56, 45, 13, 5, 29, 2, 24, 20]);
  });

  it("shows 12-hour time with PM in bit 7, in BCD and in binary", () => {
    const { rtc, read, write } = setup();
    write(REG_B, 0x00); // 12-hour BCD
    expect(read(HOUR)).toBe(0x81); // 1 PM
    rtc.setTimeMs(Date.UTC(2024, 0, 1, 0, 30));
    expect(read(HOUR)).toBe(0x12); // 12 AM
    rtc.setTimeMs(Date.UTC(2024, 0, 1, 12, 30));
    expect(read(HOUR)).toBe(0x92); // 12 PM
    rtc.setTimeMs(Date.UTC(2024, 0, 1, 11, 30));
    expect(read(HOUR)).toBe(0x11);
    write(REG_B, 0x04); // 12-hour binary
    rtc.setTimeMs(Date.UTC(2024, 0, 1, 23, 30));
    expect(read(HOUR)).toBe(0x80 | 11);
    write(REG_B, 0x06); // back to 24-hour binary
    expect(read(HOUR)).toBe(23);
  });

  it("advances with the machine clock and not with the host's clock", () => {
    let wall = START;
    const { clock, read, advanceTo } = setup(() => wall);
    wall += 10_000; // the host's time moves on while the machine is paused
    expect(read(SEC)).toBe(0x56);
    advanceTo(FIRST_UPDATE - 1);
    expect(read(SEC)).toBe(0x56);
    clock.advanceBy(1);
    expect(read(SEC)).toBe(0x57);
    advanceTo(FIRST_UPDATE + 63 * SECOND);
    expect([read(HOUR), read(MIN), read(SEC)]).toEqual([0x13, 0x47, 0x00]);
  });

  it("rolls over days, months, years and centuries by the Gregorian calendar", () => {
    const { clock, rtc, timeRegisters } = setup();
    rtc.setTimeMs(Date.UTC(2023, 11, 31, 23, 59, 59));
    clock.advanceBy(SECOND);
    expect(timeRegisters()).toEqual([0x00, 0x00, 0x00, 2, 0x01, 0x01, 0x24, 0x20]); // Monday
    rtc.setTimeMs(Date.UTC(2099, 11, 31, 23, 59, 59));
    clock.advanceBy(SECOND);
    expect(timeRegisters()).toEqual([0x00, 0x00, 0x00, 6, 0x01, 0x01, 0x00, 0x21]); // Friday
    rtc.setTimeMs(Date.UTC(2100, 1, 28, 23, 59, 59)); // 2100 is not a leap year
    clock.advanceBy(SECOND);
    expect(timeRegisters().slice(4, 6)).toEqual([0x01, 0x03]);
  });

  it("resyncs to a given time, sub-second phase included", () => {
    const { clock, rtc, timeRegisters } = setup();
    rtc.setTimeMs(Date.UTC(2030, 5, 15, 8, 0, 0, 900));
    expect(timeRegisters()).toEqual([0x00, 0x00, 0x08, 7, 0x15, 0x06, 0x30, 0x20]); // Saturday
    expect(rtc.timeMs()).toBe(Date.UTC(2030, 5, 15, 8, 0, 0, 900));
    clock.advanceBy(99 * MS);
    expect(timeRegisters()[0]).toBe(0x00);
    clock.advanceBy(1 * MS);
    expect(timeRegisters()[0]).toBe(0x01);
    expect(rtc.timeMs()).toBe(Date.UTC(2030, 5, 15, 8, 0, 1));
  });
});

describe("RTC setting the time", () => {
  it("keeps guest-written time while SET is held, then counts from it (Linux's sequence)", () => {
    const { clock, read, write, advanceTo, timeRegisters } = setup();
    // mc146818_set_time: SET, divider reset, year first ... seconds last.
    write(REG_B, read(REG_B) | 0x80);
    write(REG_A, read(REG_A) | 0x70);
    write(YEAR, 0x23); // 29 February 2023 does not exist, but it is only passing through
    write(MONTH, 0x03);
    write(DAY, 0x31);
    write(WEEKDAY, 6);
    write(HOUR, 0x22);
    write(MIN, 0x10);
    write(SEC, 0x05);
    const written = [0x05, 0x10, 0x22, 6, 0x31, 0x03, 0x23, 0x20];
    advanceTo(clock.now() + 5 * SECOND);
    expect(timeRegisters()).toEqual(written);
    write(REG_B, 0x02);
    expect(timeRegisters()).toEqual(written); // the divider is still in reset
    write(REG_A, 0x26);
    const released = clock.now();
    advanceTo(released + 500 * MS - 1);
    expect(timeRegisters()).toEqual(written);
    advanceTo(released + 500 * MS);
    expect(read(SEC)).toBe(0x06);
    advanceTo(released + 500 * MS + 2 * 3600 * SECOND);
    expect(timeRegisters()).toEqual([0x06, 0x10, 0x00, 7, 0x01, 0x04, 0x23, 0x20]);
  });

  it("holds the time under SET without losing the divider's phase", () => {
    const { read, write, advanceTo } = setup();
    write(REG_B, 0x82);
    advanceTo(FIRST_UPDATE + 3 * SECOND);
    expect(read(SEC)).toBe(0x56);
    write(REG_B, 0x02);
    advanceTo(FIRST_UPDATE + 4 * SECOND - 1);
    expect(read(SEC)).toBe(0x56);
    advanceTo(FIRST_UPDATE + 4 * SECOND);
    expect(read(SEC)).toBe(0x57);
  });

  it("clears UIE when SET is written", () => {
    const { read, write } = setup();
    write(REG_B, 0x12);
    write(REG_B, 0x92);
    expect(read(REG_B)).toBe(0x82);
  });

  it("takes a time register written while the clock counts at once", () => {
    const { clock, read, write } = setup();
    write(MIN, 0x10);
    expect([read(HOUR), read(MIN), read(SEC)]).toEqual([0x13, 0x10, 0x56]);
    clock.advanceBy(FIRST_UPDATE);
    expect([read(HOUR), read(MIN), read(SEC)]).toEqual([0x13, 0x10, 0x57]);
  });

  it("stands still while the divider selects a time base other than 32.768 kHz", () => {
    const { read, write, advanceTo } = setup();
    advanceTo(250 * MS); // 500 ms before the next update
    read(REG_C);
    write(REG_A, 0x06);
    advanceTo(10 * SECOND);
    expect(read(SEC)).toBe(0x56);
    expect(read(REG_A) & UIP).toBe(0);
    expect(read(REG_C) & (PF | UF)).toBe(0);
    write(REG_A, 0x26);
    advanceTo(10 * SECOND + 500 * MS - 1);
    expect(read(SEC)).toBe(0x56);
    advanceTo(10 * SECOND + 500 * MS);
    expect(read(SEC)).toBe(0x57);
  });
});

describe("RTC update-in-progress", () => {
  it("sets UIP for the 244 µs before each update", () => {
    const { clock, read, advanceTo } = setup();
    advanceTo(FIRST_UPDATE - 245_000);
    expect(read(REG_A) & UIP).toBe(0);
    advanceTo(FIRST_UPDATE - 244_000);
    expect(read(REG_A)).toBe(UIP | 0x26);
    expect(read(SEC)).toBe(0x56); // still the old second
    clock.advanceBy(244_000);
    expect(read(REG_A)).toBe(0x26);
    expect(read(SEC)).toBe(0x57);
  });

  it("clears UIP while SET is held", () => {
    const { read, write, advanceTo } = setup();
    write(REG_B, 0x82);
    advanceTo(FIRST_UPDATE - 100_000);
    expect(read(REG_A) & UIP).toBe(0);
  });

  it("lets a polling read (wait for UIP to clear, read, check) terminate with a consistent time", () => {
    const { clock, read, advanceTo } = setup();
    advanceTo(FIRST_UPDATE - 200_000);
    // Each port access takes a microsecond of guest time, as on a running CPU.
    const readSlowly = (register: number) => {
      clock.advanceBy(1000);
      return read(register);
    };
    let polls = 0;
    while (readSlowly(REG_A) & UIP) {
      polls++;
      expect(polls).toBeLessThan(1000);
    }
    expect(polls).toBeGreaterThan(0);
    const time = [SEC, MIN, HOUR, DAY, MONTH, YEAR].map(readSlowly);
    expect(readSlowly(REG_A) & UIP).toBe(0);
    expect(readSlowly(SEC)).toBe(time[0]);
    expect(time).toEqual([0x57, 0x45, 0x13, 0x29, 0x02, 0x24]);
  });
});

describe("RTC periodic interrupt", () => {
  it("interrupts 1024 times a second at rate 6, every 976.5625 µs", () => {
    const { clock, write, runLoop, edges } = setup();
    write(REG_B, 0x42);
    const regC = runLoop(clock.now() + SECOND);
    expect(edges).toHaveLength(1024);
    // UF comes along once, at the second boundary, without UIE.
    expect(regC.every((value) => (value & ~UF) === (IRQF | PF))).toBe(true);
    const gaps = edges.slice(1).map((time, i) => time - edges[i]!);
    expect(new Set(gaps)).toEqual(new Set([976_562.5]));
  });

  it("interrupts twice a second at rate 15, on the divider's half-second taps", () => {
    const { write, runLoop, edges } = setup();
    write(REG_A, 0x2f);
    write(REG_B, 0x42);
    runLoop(3 * SECOND);
    // The second boundary is 750 ms in, so the 500 ms taps fall at 250 ms and 750 ms.
    expect(edges).toEqual([250, 750, 1250, 1750, 2250, 2750].map((ms) => ms * MS));
  });

  it("repeats rates 8 and 9 for rates 1 and 2", () => {
    const { clock, write, runLoop, edges } = setup();
    write(REG_B, 0x42);
    write(REG_A, 0x21);
    runLoop(clock.now() + 10 * MS);
    write(REG_A, 0x22);
    const start = clock.now();
    runLoop(start + 40 * MS);
    const rate1 = edges.filter((t) => t <= start);
    const rate2 = edges.filter((t) => t > start);
    expect(rate1[1]! - rate1[0]!).toBe(3_906_250);
    expect(rate2[1]! - rate2[0]!).toBe(7_812_500);
  });

  it("sets PF without PIE but leaves IRQ8 low; rate 0 sets nothing", () => {
    const { read, write, advanceTo, edges, rtc } = setup();
    expect(rtc.nextDeadline()).toBe(Infinity);
    advanceTo(10 * MS);
    expect(read(REG_C)).toBe(PF);
    write(REG_A, 0x20);
    advanceTo(100 * MS);
    expect(read(REG_C)).toBe(0);
    expect(edges).toEqual([]);
  });

  it("gives one edge when the run loop comes late, however many periods it missed", () => {
    const { clock, rtc, read, write, advanceTo, edges } = setup();
    write(REG_B, 0x42);
    advanceTo(100 * MS);
    expect(edges).toHaveLength(1);
    expect(read(REG_C)).toBe(IRQF | PF);
    const next = rtc.nextDeadline();
    expect(next).toBeGreaterThan(clock.now());
    expect(next - clock.now()).toBeLessThanOrEqual(976_562.5);
  });
});

describe("RTC update-ended interrupt", () => {
  it("interrupts once a second, after the registers show the new second", () => {
    const { clock, read, write, runLoop, edges } = setup();
    write(REG_A, 0x20); // no periodic flag, to see UF alone
    write(REG_B, 0x12);
    const seconds: number[] = [];
    const irq = { count: 0 };
    for (let i = 0; i < 3; i++) {
      const deadline = FIRST_UPDATE + i * SECOND;
      runLoop(deadline - 1);
      expect(edges).toHaveLength(irq.count);
      runLoop(deadline);
      irq.count++;
      seconds.push(read(SEC));
    }
    expect(edges).toEqual([0, 1, 2].map((i) => FIRST_UPDATE + i * SECOND));
    expect(seconds).toEqual([0x57, 0x58, 0x59]);
    expect(clock.now()).toBe(FIRST_UPDATE + 2 * SECOND);
  });

  it("reports UF with IRQF in REG C", () => {
    const { write, read, advanceTo } = setup();
    write(REG_A, 0x20);
    write(REG_B, 0x12);
    advanceTo(FIRST_UPDATE);
    expect(read(REG_C)).toBe(IRQF | UF);
    expect(read(REG_C)).toBe(0);
  });
});

describe("RTC alarm", () => {
  it("fires once a minute at the alarm second when minutes and hours are don't-care", () => {
    const { rtc, read, write, runLoop, edges } = setup();
    write(REG_A, 0x20);
    write(SEC_ALARM, 0x00);
    write(MIN_ALARM, 0xff);
    write(HOUR_ALARM, 0xc0);
    write(REG_B, 0x22);
    // 13:45:56.25 -> 13:46:00 is the 4th update.
    expect(rtc.nextDeadline()).toBe(FIRST_UPDATE + 3 * SECOND);
    const regC = runLoop(FIRST_UPDATE + 125 * SECOND);
    expect(edges).toEqual([3, 63, 123].map((s) => FIRST_UPDATE + s * SECOND));
    expect(regC).toEqual([IRQF | AF | UF, IRQF | AF | UF, IRQF | AF | UF]);
    expect(read(MIN)).toBe(0x48);
  });

  it("fires once a day for an exact hour, minute and second", () => {
    const { rtc, write, runLoop, edges } = setup();
    write(REG_A, 0x20);
    write(HOUR_ALARM, 0x13);
    write(MIN_ALARM, 0x46);
    write(SEC_ALARM, 0x10);
    write(REG_B, 0x22);
    runLoop(FIRST_UPDATE + 20 * SECOND);
    expect(edges).toEqual([FIRST_UPDATE + 13 * SECOND]);
    expect(rtc.nextDeadline()).toBe(FIRST_UPDATE + (13 + 86_400) * SECOND);
  });

  it("compares the hours alarm in the 12-hour format", () => {
    const { write, runLoop, edges } = setup();
    write(REG_B, 0x00); // 12-hour BCD
    write(HOUR_ALARM, 0x81); // 1 PM
    write(MIN_ALARM, 0x46);
    write(SEC_ALARM, 0x00);
    write(REG_B, 0x20);
    runLoop(FIRST_UPDATE + 10 * SECOND);
    expect(edges).toEqual([FIRST_UPDATE + 3 * SECOND]);
  });

  it("sets AF without AIE but leaves IRQ8 low", () => {
    const { read, write, advanceTo, edges } = setup();
    write(SEC_ALARM, 0x57);
    write(MIN_ALARM, 0xc0);
    write(HOUR_ALARM, 0xc0);
    advanceTo(FIRST_UPDATE);
    expect(read(REG_C) & (IRQF | AF)).toBe(AF);
    expect(edges).toEqual([]);
  });

  it("sets AF once for an alarm passed while the run loop was late", () => {
    const { read, write, advanceTo, edges } = setup();
    write(REG_A, 0x20);
    write(SEC_ALARM, 0x58);
    write(MIN_ALARM, 0xc0);
    write(HOUR_ALARM, 0xc0);
    write(REG_B, 0x22);
    advanceTo(FIRST_UPDATE + 10 * SECOND);
    expect(edges).toHaveLength(1);
    expect(read(REG_C)).toBe(IRQF | AF | UF);
    advanceTo(FIRST_UPDATE + 11 * SECOND); // 13:46:07: no match
    expect(read(REG_C)).toBe(UF);
  });

  it("never fires for an alarm byte no time encodes to", () => {
    const { rtc, read, write, advanceTo } = setup();
    write(SEC_ALARM, 0x75);
    write(MIN_ALARM, 0xc0);
    write(HOUR_ALARM, 0xc0);
    write(REG_A, 0x20);
    write(REG_B, 0x22);
    expect(rtc.nextDeadline()).toBe(Infinity);
    advanceTo(120 * SECOND);
    expect(read(REG_C) & AF).toBe(0);
  });
});

describe("RTC register C", () => {
  it("clears on read and drops IRQ8", () => {
    const { read, write, advanceTo, level } = setup();
    write(REG_B, 0x42);
    advanceTo(1 * MS);
    expect(level()).toBe(true);
    expect(read(REG_C)).toBe(IRQF | PF);
    expect(level()).toBe(false);
    expect(read(REG_C)).toBe(0);
  });

  it("keeps IRQ8 asserted without new edges until it is read", () => {
    const { rtc, read, write, advanceTo, edges } = setup();
    write(REG_B, 0x42);
    for (let i = 1; i <= 10; i++) advanceTo(i * MS);
    expect(edges).toHaveLength(1);
    expect(rtc.nextDeadline()).toBe(Infinity);
    read(REG_C);
    expect(rtc.nextDeadline()).toBeLessThan(Infinity);
    advanceTo(11 * MS);
    expect(edges).toHaveLength(2);
  });

  it("raises IRQF when an interrupt is enabled while its flag is pending", () => {
    const { read, write, advanceTo, edges } = setup();
    advanceTo(1 * MS);
    write(REG_B, 0x42);
    expect(edges).toEqual([1 * MS]);
    expect(read(REG_C)).toBe(IRQF | PF);
  });

  it("ignores writes to registers C and D", () => {
    const { read, write } = setup();
    write(REG_C, 0xff);
    write(REG_D, 0x00);
    expect(read(REG_C)).toBe(0);
    expect(read(REG_D)).toBe(0x80);
  });
});

describe("CMOS RAM", () => {
  it("stores bytes 0x0E-0x7F of the standard bank", () => {
    const { read, write } = setup();
    for (let i = 0x0e; i < 0x80; i++) write(i, (i * 37 + 11) & 0xff);
    for (let i = 0x0e; i < 0x80; i++) expect(read(i)).toBe((i * 37 + 11) & 0xff);
  });

  it("keeps the NMI-disable bit of the index apart from the register it selects", () => {
    const { rtc, io } = setup();
    io.write(0x70, 1, 0x80 | 0x20);
    io.write(0x71, 1, 0x5a);
    expect(rtc.nmiDisabled).toBe(true);
    io.write(0x70, 1, 0x20);
    expect(rtc.nmiDisabled).toBe(false);
    expect(io.read(0x71, 1)).toBe(0x5a);
  });

  it("has a separate extended bank at 0x72/0x73", () => {
    const { io, read, write } = setup();
    write(0x40, 0x11);
    for (let i = 0; i < 0x80; i++) {
      io.write(0x72, 1, i);
      io.write(0x73, 1, i ^ 0xa5);
    }
    for (let i = 0; i < 0x80; i++) {
      io.write(0x72, 1, i);
      expect(io.read(0x73, 1)).toBe(i ^ 0xa5);
    }
    expect(read(0x40)).toBe(0x11);
  });

  it("takes index and data from one 16-bit OUT to 0x70", () => {
    const { io, read } = setup();
    io.write(0x70, 2, 0x9940);
    expect(read(0x40)).toBe(0x99);
  });
});

describe("CMOS firmware presets", () => {
  const word = (read: (r: number) => number, at: number) => read(at) | (read(at + 1) << 8);
  const checksumOk = (read: (r: number) => number) => {
    let sum = 0;
    for (let i = 0x10; i <= 0x2d; i++) sum += read(i);
    return ((read(0x2e) << 8) | read(0x2f)) === (sum & 0xffff);
  };

  it("fills the memory sizes for 64 MiB with a valid checksum", () => {
    const { rtc, read } = setup();
    rtc.setMemorySize(64 * 1024 * 1024);
    expect(word(read, 0x15)).toBe(640);
    expect(word(read, 0x17)).toBe(63 * 1024);
    expect(word(read, 0x30)).toBe(63 * 1024);
    expect(word(read, 0x34)).toBe((48 * 1024 * 1024) / 65536);
    expect([read(0x5b), read(0x5c), read(0x5d)]).toEqual([0, 0, 0]);
    expect(read(0x2e) | read(0x2f)).not.toBe(0);
    expect(checksumOk(read)).toBe(true);
  });

  it("caps the KiB counts at 0xFFFF and counts 64 KiB above 16 MiB", () => {
    const { rtc, read } = setup();
    rtc.setMemorySize(3 * 1024 * 1024 * 1024);
    expect(word(read, 0x17)).toBe(0xffff);
    expect(word(read, 0x30)).toBe(0xffff);
    expect(word(read, 0x34)).toBe(((3072 - 16) * 1024 * 1024) / 65536);
    rtc.setMemorySize(8 * 1024 * 1024);
    expect(word(read, 0x17)).toBe(7 * 1024);
    expect(word(read, 0x34)).toBe(0);
    expect(checksumOk(read)).toBe(true);
  });

  it("presets RAM bytes keeping the checksum valid, and the equipment byte", () => {
    const { rtc, io, read } = setup();
    rtc.setCmosByte(0x10, 0x40); // a 1.44 MB drive A:
    expect(read(0x10)).toBe(0x40);
    expect(checksumOk(read)).toBe(true);
    rtc.setEquipment({ floppyDrives: 1, mathCoprocessor: true, primaryDisplay: "ega-vga" });
    expect(read(0x14)).toBe(0x03);
    rtc.setEquipment({ floppyDrives: 2, mathCoprocessor: false, primaryDisplay: "cga-80" });
    expect(read(0x14)).toBe(0x61);
    expect(checksumOk(read)).toBe(true);
    rtc.setCmosByte(0x90, 0x77);
    io.write(0x72, 1, 0x10);
    expect(io.read(0x73, 1)).toBe(0x77);
    expect(() => rtc.setCmosByte(0x00, 1)).toThrow(RangeError);
    expect(() => rtc.setCmosByte(0x0d, 1)).toThrow(RangeError);
    expect(() => rtc.setCmosByte(0x32, 0x19)).toThrow(RangeError);
    expect(() => rtc.setCmosByte(0x40, 256)).toThrow(RangeError);
    expect(() => rtc.setCmosByte(0x100, 0)).toThrow(RangeError);
  });
});

describe("RTC save and restore", () => {
  function busyRtc() {
    const rig = setup();
    const { write, io, advanceTo, rtc } = rig;
    rtc.setMemorySize(32 * 1024 * 1024);
    io.write(0x72, 1, 0x05);
    io.write(0x73, 1, 0xee);
    write(SEC_ALARM, 0x00);
    write(MIN_ALARM, 0xc0);
    write(HOUR_ALARM, 0xc0);
    write(REG_A, 0x2c); // 16 Hz
    write(REG_B, 0x62); // PIE and AIE
    io.write(0x70, 1, 0x80 | 0x0c); // NMI masked, REG C selected
    advanceTo(123_456_789);
    return rig;
  }

  it("continues identically on a clock that reads the same time", () => {
    const original = busyRtc();
    const saved = JSON.parse(JSON.stringify(original.rtc.save())) as unknown;
    const copy = setup(() => Date.UTC(1999, 0, 1));
    copy.clock.advanceBy(original.clock.now());
    restoreComponent(copy.rtc, saved);
    expect(copy.rtc.save()).toEqual(original.rtc.save());
    expect(copy.rtc.nmiDisabled).toBe(true);
    expect(copy.level()).toBe(original.level());
    const start = original.clock.now();
    original.edges.length = 0;
    copy.edges.length = 0; // restore drove the line
    const until = start + 70 * SECOND;
    const regC = original.runLoop(until);
    expect(copy.runLoop(until)).toEqual(regC);
    expect(copy.edges).toEqual(original.edges);
    expect(copy.edges).toHaveLength(70 * 16); // the alarm edges fall on periodic ones
    expect(regC.filter((value) => value & AF)).toHaveLength(2); // 13:46:00 and 13:47:00
    expect(copy.timeRegisters()).toEqual(original.timeRegisters());
    expect(copy.io.read(0x73, 1)).toBe(0xee);
  });

  it("keeps guest-written time bytes while SET is held", () => {
    const original = setup();
    original.write(REG_B, 0x82);
    original.write(DAY, 0x31);
    original.write(MONTH, 0x04); // 31 April: held as written until SET is cleared
    const copy = setup();
    restoreComponent(copy.rtc, original.rtc.save());
    expect(copy.timeRegisters()).toEqual(original.timeRegisters());
    copy.write(REG_B, 0x02);
    expect([copy.read(DAY), copy.read(MONTH)]).toEqual([0x01, 0x05]);
  });

  it("drives IRQ8 from the restored flags", () => {
    const original = busyRtc(); // a periodic interrupt is pending
    expect(original.level()).toBe(true);
    const copy = setup();
    copy.clock.advanceBy(original.clock.now());
    restoreComponent(copy.rtc, original.rtc.save());
    expect(copy.level()).toBe(true);
    expect(copy.read(REG_C)).toBe(IRQF | PF);
  });

  it("rejects malformed states and leaves the device as it was", () => {
    const { rtc, level } = busyRtc();
    const good = rtc.save();
    const before = JSON.stringify(good);
    const withRam = (index: number, value: number) => {
      const ram = [...good.ram];
      ram[index] = value;
      return { ...good, ram };
    };
    const bad: Array<[unknown, typeof TypeError | typeof RangeError, RegExp]> = [
      [null, TypeError, /RTC state/],
      [[], TypeError, /RTC state/],
      [{ ...good, version: 2 }, RangeError, /version/],
      [{ ...good, ram: good.ram.slice(1) }, RangeError, /ram/],
      [withRam(0x40, 256), RangeError, /ram\[64\]/],
      [withRam(0x40, 1.5), TypeError, /ram\[64\]/],
      [withRam(REG_A, 0xa6), RangeError, /REG A/],
      [withRam(REG_C, 0xc0), RangeError, /REG C/],
      [withRam(REG_D, 0x00), RangeError, /REG D/],
      [{ ...good, extendedRam: undefined }, TypeError, /extendedRam/],
      [{ ...good, index: 0x100 }, RangeError, /index/],
      [{ ...good, timeSeconds: 1.5 }, TypeError, /timeSeconds/],
      [{ ...good, weekdayOffset: 7 }, RangeError, /weekdayOffset/],
      [{ ...good, nextUpdateNs: "soon" }, TypeError, /nextUpdateNs/],
      [{ ...good, heldUntilUpdateNs: 2 * SECOND }, RangeError, /heldUntilUpdateNs/],
      [{ ...good, nextPeriodicNs: null }, RangeError, /nextPeriodicNs/],
      [{ ...good, nextPeriodicNs: "x" }, TypeError, /nextPeriodicNs/],
      [{ ...withRam(REG_A, 0x20), nextPeriodicNs: 5 }, RangeError, /nextPeriodicNs/],
    ];
    for (const [state, errorType, message] of bad) {
      expect(() => restoreComponent(rtc, state)).toThrow(errorType);
      expect(() => restoreComponent(rtc, state)).toThrow(message);
    }
    expect(JSON.stringify(rtc.save())).toBe(before);
    expect(level()).toBe(true);
  });
});
