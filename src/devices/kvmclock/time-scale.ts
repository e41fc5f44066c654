// pvclock's fixed-point conversion from TSC ticks to nanoseconds:
// ns = ((ticks << shift) * mul) >> 32, with shift negative meaning a right
// shift. We pick the shift that puts mul in [2^31, 2^32) for the most precision.

export interface TimeScale {
  /** tsc_to_system_mul */
  mul: number;
  /** tsc_shift, in [-31, 31] */
  shift: number;
}

export function timeScaleFor(tscHz: number): TimeScale {
  if (!Number.isInteger(tscHz) || tscHz <= 0) throw new RangeError(`bad TSC rate ${tscHz}`);
  // ns per tick = 1e9 / hz = mul * 2^(shift - 32); mul must fit in 32 bits.
  let shift = 0;
  const nsPerTick = 1e9 / tscHz;
  while (nsPerTick * 2 ** (32 - shift) >= 2 ** 32) shift++;
  while (nsPerTick * 2 ** (32 - shift) < 2 ** 31) shift--;
  const mul = ((10n ** 9n) << BigInt(32 - shift)) / BigInt(tscHz);
  return { mul: Number(mul), shift };
}

/** The guest's side of the conversion, for tests and checks. */
export function scaleTicks(ticks: bigint, scale: TimeScale): bigint {
  const shifted = scale.shift >= 0 ? ticks << BigInt(scale.shift) : ticks >> BigInt(-scale.shift);
  return (shifted * BigInt(scale.mul)) >> 32n;
}
