// The balloon's memory statistics (virtio spec 5.5.6.3): the guest fills a
// buffer with 10-byte (u16 tag, u64 value) entries. We keep the latest set,
// decoded and named; values are the guest's, never invented.

export const STAT_NAMES = [
  "swapIn", // pages swapped in
  "swapOut",
  "majorFaults",
  "minorFaults",
  "freeMemory", // bytes
  "totalMemory",
  "availableMemory",
  "diskCaches",
  "hugetlbAllocations",
  "hugetlbFailures",
] as const;

export type StatName = (typeof STAT_NAMES)[number];
export type BalloonStats = Partial<Record<StatName, number>>;

const ENTRY_BYTES = 10;

/**
 * Decodes a stats buffer. Unknown tags (newer drivers) are skipped; a trailing
 * partial entry is ignored; values beyond 2^53 are clamped (they are counters).
 */
export function decodeStats(bytes: Uint8Array): BalloonStats {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stats: BalloonStats = {};
  for (let at = 0; at + ENTRY_BYTES <= bytes.length; at += ENTRY_BYTES) {
    const tag = view.getUint16(at, true);
    const value = view.getBigUint64(at + 2, true);
    const name = STAT_NAMES[tag];
    if (name === undefined) continue;
    stats[name] = value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(value);
  }
  return stats;
}
