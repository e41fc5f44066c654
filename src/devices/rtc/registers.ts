// The MC146818A register file: indexes, the bits of registers A-D, and what
// register A's divider and rate-select fields mean with the PC's 32.768 kHz
// crystal.

export const CMOS_BANK_SIZE = 128;

export const REG_SECONDS = 0x00;
export const REG_SECONDS_ALARM = 0x01;
export const REG_MINUTES = 0x02;
export const REG_MINUTES_ALARM = 0x03;
export const REG_HOURS = 0x04;
export const REG_HOURS_ALARM = 0x05;
export const REG_DAY_OF_WEEK = 0x06;
export const REG_DAY_OF_MONTH = 0x07;
export const REG_MONTH = 0x08;
export const REG_YEAR = 0x09;
export const REG_A = 0x0a;
export const REG_B = 0x0b;
export const REG_C = 0x0c;
export const REG_D = 0x0d;
/** Not part of the MC146818A: the PC BIOS keeps the century here, and so do we. */
export const REG_CENTURY = 0x32;

/** The registers that count time (the alarm bytes are not among them). */
export const TIME_REGISTERS: readonly number[] = [
  REG_SECONDS,
  REG_MINUTES,
  REG_HOURS,
  REG_DAY_OF_WEEK,
  REG_DAY_OF_MONTH,
  REG_MONTH,
  REG_YEAR,
  REG_CENTURY,
];

export const A_UIP = 0x80;
const A_DIVIDER_SHIFT = 4;
const A_RATE_MASK = 0x0f;

export const B_SET = 0x80;
export const B_PIE = 0x40;
export const B_AIE = 0x20;
export const B_UIE = 0x10;
export const B_SQWE = 0x08;
export const B_BINARY = 0x04;
export const B_24_HOUR = 0x02;
export const B_DSE = 0x01;

export const C_IRQF = 0x80;
export const C_PF = 0x40;
export const C_AF = 0x20;
export const C_UF = 0x10;
/** The flags that are stored; IRQF follows from them and register B. */
export const C_FLAGS = C_PF | C_AF | C_UF;

/** Valid RAM and time: the battery is good. */
export const D_VRT = 0x80;

/** What BIOSes program: 32.768 kHz time base, 1024 Hz periodic rate. */
export const REG_A_DEFAULT = 0x26;
/** 24-hour BCD mode, every interrupt off. */
export const REG_B_DEFAULT = B_24_HOUR;

/**
 * DV2-DV0 = 010 runs the divider chain from the 32.768 kHz crystal; 11x holds
 * it in reset; any other pattern selects a time base the PC does not have, and
 * the chain (and so the clock) stands still.
 */
export type DividerMode = "running" | "reset" | "stopped";

export function dividerMode(regA: number): DividerMode {
  const divider = (regA >> A_DIVIDER_SHIFT) & 7;
  if (divider === 0b010) return "running";
  return divider >= 0b110 ? "reset" : "stopped";
}

export function rateSelect(regA: number): number {
  return regA & A_RATE_MASK;
}

const NS_PER_SECOND = 1e9;
const TIME_BASE_HZ = 32_768;

/**
 * The periodic interrupt interval for rate select `rate`, in nanoseconds, or
 * null for rate 0 (none). Rates 3-15 tap the divider at 2^(rate-1) crystal
 * cycles; with a 32.768 kHz time base rates 1 and 2 repeat rates 8 and 9.
 * Every interval is a power-of-two fraction of a second, exact in a double.
 */
export function periodicIntervalNs(rate: number): number | null {
  if (rate === 0) return null;
  const tap = rate <= 2 ? rate + 7 : rate;
  return (NS_PER_SECOND * 2 ** (tap - 1)) / TIME_BASE_HZ;
}
