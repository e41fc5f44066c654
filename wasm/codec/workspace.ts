// The module owns no allocator (--runtime stub): callers ask for one work
// area above the static data and place their buffers in it themselves.

const PAGE: usize = 65536;

/**
 * Grows memory so that [base, base + bytes) exists and returns base (16-byte
 * aligned). Returns 0 if the memory cannot grow. Any JS views of the memory
 * must be recreated after a call that grew it.
 */
export function workspace(bytes: usize): usize {
  const base = (__heap_base + 15) & ~15;
  const needed = base + bytes;
  const have = <usize>memory.size() * PAGE;
  if (needed > have) {
    const pages = <i32>((needed - have + PAGE - 1) / PAGE);
    if (memory.grow(pages) < 0) return 0;
  }
  return base;
}
