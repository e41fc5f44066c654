// Decoding of an 8254 counter's programmed mode (the low six bits of its
// control word: RW1 RW0 M2 M1 M0 BCD) and of the counts it is given.

export type CounterMode = 0 | 1 | 2 | 3 | 4 | 5;

/** How the CPU reads and writes the count: the RW field of the control word. */
export const ACCESS_LSB = 1;
export const ACCESS_MSB = 2;
export const ACCESS_LSB_MSB = 3;

const BCD_FLAG = 0x01;
const BINARY_MODULUS = 0x10000;
const BCD_MODULUS = 10000;

/** The counting mode; M2 is a don't-care for modes 2 and 3, so 6 and 7 alias them. */
export function modeOf(control: number): CounterMode {
  const mode = (control >> 1) & 7;
  return (mode > 5 ? mode - 4 : mode) as CounterMode;
}

export function accessOf(control: number): number {
  return (control >> 4) & 3;
}

export function isBcd(control: number): boolean {
  return (control & BCD_FLAG) !== 0;
}

/** Distinct counter values: the element wraps from 0 to FFFF (binary) or 9999 (BCD). */
export function modulusOf(control: number): number {
  return isBcd(control) ? BCD_MODULUS : BINARY_MODULUS;
}

/**
 * The number of clock pulses a count register value stands for: 1..65536
 * binary or 1..10000 BCD, 0 being the largest. A BCD digit above 9 has no
 * defined meaning; it counts as 9.
 */
export function initialCount(countRegister: number, control: number): number {
  if (!isBcd(control)) return countRegister === 0 ? BINARY_MODULUS : countRegister;
  let value = 0;
  for (let shift = 12; shift >= 0; shift -= 4) {
    value = value * 10 + Math.min((countRegister >> shift) & 0xf, 9);
  }
  return value === 0 ? BCD_MODULUS : value;
}

/** The 16 bits the CPU reads for element value `value` (0..modulus-1). */
export function encodeCount(value: number, control: number): number {
  if (!isBcd(control)) return value;
  let bits = 0;
  for (let shift = 0; shift < 16; shift += 4) {
    bits |= (value % 10) << shift;
    value = Math.floor(value / 10);
  }
  return bits;
}
