// Conversion between machine-clock nanoseconds and 8254 input-clock ticks.
// 1 193 182 Hz / 1e9 ns reduces to 596 591 / 5e8; splitting the operands keeps
// every product below 2^53, so both directions are exact and
// tickAt(timeOfTick(n)) === n for any tick a 104-day clock can reach.

export const PIT_HZ = 1_193_182;
const TICKS_PER_UNIT = 596_591;
const NS_PER_UNIT = 500_000_000;

/** Number of input-clock edges that have happened by time `ns` (edge n is at n / PIT_HZ s). */
export function tickAt(ns: number): number {
  const whole = Math.floor(ns);
  const units = Math.floor(whole / NS_PER_UNIT);
  const rest = whole - units * NS_PER_UNIT;
  return units * TICKS_PER_UNIT + Math.floor((rest * TICKS_PER_UNIT) / NS_PER_UNIT);
}

/** The first whole nanosecond at which edge `tick` has happened. */
export function timeOfTick(tick: number): number {
  if (tick === Infinity) return Infinity;
  const units = Math.floor(tick / TICKS_PER_UNIT);
  const rest = tick - units * TICKS_PER_UNIT;
  return units * NS_PER_UNIT + Math.ceil((rest * NS_PER_UNIT) / TICKS_PER_UNIT);
}
