// A fast 64-bit non-cryptographic hash, to compare guest RAM on both sides
// of a migration. Four independent lanes each take one u64 word per 32-byte
// stripe (xor in, multiply, add, rotate), so the multiplies of different
// lanes overlap in the CPU instead of forming one long dependency chain.
// Each lane step is a bijection of the lane for a fixed word, so a change in
// any single word always changes that lane's state.
// Not for adversarial input: anyone can construct collisions.

const K1: u64 = 0x8b56adf4f5c5d513;
const K2: u64 = 0xdb71650d71f89f77;
const K3: u64 = 0xff057d4e6b795bf9;
const K4: u64 = 0xe514e688972e0f3f;

// Streaming state, so inputs larger than the work area can be fed in pieces.
let a: u64 = 0;
let b: u64 = 0;
let c: u64 = 0;
let d: u64 = 0;
let total: u64 = 0;

// @ts-ignore: decorator
@inline
function step(lane: u64, word: u64): u64 {
  return rotl<u64>((lane ^ word) * K1 + K2, 29);
}

export function hashBegin(seed: u64): void {
  a = seed ^ K1;
  b = seed ^ K2;
  c = seed ^ K3;
  d = seed ^ K4;
  total = 0;
}

/** Feeds len bytes; len must be a multiple of 32 except in hashEnd. */
export function hashUpdate(p: usize, len: usize): void {
  const end = p + (len & ~31);
  let la = a, lb = b, lc = c, ld = d;
  while (p < end) {
    la = step(la, load<u64>(p));
    lb = step(lb, load<u64>(p, 8));
    lc = step(lc, load<u64>(p, 16));
    ld = step(ld, load<u64>(p, 24));
    p += 32;
  }
  a = la;
  b = lb;
  c = lc;
  d = ld;
  total += <u64>(len & ~31);
}

// Final avalanche (xor-shift-multiply) so every input bit reaches every
// output bit.
// @ts-ignore: decorator
@inline
function avalanche(h: u64): u64 {
  h ^= h >>> 31;
  h *= K3;
  h ^= h >>> 29;
  h *= K4;
  h ^= h >>> 32;
  return h;
}

/** Feeds the last len bytes (any length) and returns the hash. */
export function hashEnd(p: usize, len: usize): u64 {
  hashUpdate(p, len);
  p += len & ~31;
  let rest = len & 31;
  total += <u64>rest;
  // Leftover whole words go to lanes a, b, c; leftover bytes to lane d.
  if (rest >= 8) { a = step(a, load<u64>(p)); p += 8; rest -= 8; }
  if (rest >= 8) { b = step(b, load<u64>(p)); p += 8; rest -= 8; }
  if (rest >= 8) { c = step(c, load<u64>(p)); p += 8; rest -= 8; }
  if (rest > 0) {
    let word: u64 = 0;
    for (let i: usize = 0; i < rest; i++) word |= <u64>load<u8>(p + i) << (<u64>i << 3);
    d = step(d, word ^ (<u64>rest << 56));
  }
  // Combine the lanes in order, then mix in the length: inputs that differ
  // only by trailing zero bytes still hash differently.
  let h = total * K2;
  h = rotl<u64>(h ^ avalanche(a), 27) * K1 + K4;
  h = rotl<u64>(h ^ avalanche(b), 27) * K1 + K4;
  h = rotl<u64>(h ^ avalanche(c), 27) * K1 + K4;
  h = rotl<u64>(h ^ avalanche(d), 27) * K1 + K4;
  return avalanche(h);
}

/** One-shot hash of len bytes at p. */
export function hash64(p: usize, len: usize, seed: u64): u64 {
  hashBegin(seed);
  return hashEnd(p, len);
}
