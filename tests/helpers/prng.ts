// xorshift32: a small, reproducible PRNG for randomized tests (a failing seed
// reruns the same case).
export function prng(seed: number, fallback = 0x9e3779b9): () => number {
  let x = seed >>> 0 || fallback;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}
