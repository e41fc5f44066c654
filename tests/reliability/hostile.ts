// What the fuzzers share: a seeded [0, 1) source, a random pick, and values
// a field should never hold (wrong types, fractions, sizes past any limit).
import { prng } from "../helpers/prng.ts";

export type Random = () => number;

/** Reproducible: the same seed makes the same case. */
export function randomFor(seed: number): Random {
  const next = prng(seed);
  return () => next() / 2 ** 32;
}

export const pick = <T>(items: readonly T[], random: Random): T =>
  items[Math.floor(random() * items.length)]!;

export const HOSTILE_VALUES: readonly unknown[] = [
  null,
  "",
  "x".repeat(5000),
  [],
  {},
  true,
  -1,
  0.5,
  2 ** 32,
  2 ** 53,
  Number.MAX_VALUE,
  -Number.MAX_VALUE,
];
