// Zero-page detection: most of an idle guest's RAM is zero pages, which
// migration sends as a bit instead of 4 KiB. 16-byte SIMD loads, four at a
// time OR-ed together, with an early exit on the first non-zero block.

export const PAGE_SIZE: usize = 4096;

/** True when the 4 KiB at p are all zero. */
export function isZeroPage(p: usize): bool {
  const end = p + PAGE_SIZE;
  while (p < end) {
    const v = v128.or(
      v128.or(v128.load(p), v128.load(p, 16)),
      v128.or(v128.load(p, 32), v128.load(p, 48)),
    );
    if (v128.any_true(v)) return false;
    p += 64;
  }
  return true;
}

/**
 * Scans count pages at p in one call and writes one byte per page to flags
 * (1 = has data). Returns the number of non-zero pages.
 */
export function scanPages(p: usize, count: usize, flags: usize): usize {
  let nonZero: usize = 0;
  for (let i: usize = 0; i < count; i++) {
    const data = !isZeroPage(p + i * PAGE_SIZE);
    store<u8>(flags + i, <u8>data);
    nonZero += <usize>data;
  }
  return nonZero;
}
