// Parses byte sizes the way QEMU's -m does: a plain number of bytes, or a
// number with a binary suffix (K, M, G; "KiB"/"KB" spellings are accepted too,
// and a bare "B" means bytes). 16M, 128MiB, 1G and 4096 all work.

const MULTIPLIERS: Record<string, number> = {
  "": 1,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
};

/** Returns the size in bytes, or null when `text` is not a size. */
export function parseSize(text: string): number | null {
  const match = /^(\d+)\s*([kmg]?)(?:i?b)?$/i.exec(text.trim());
  if (!match) return null;
  const [, digits, suffix] = match;
  const bytes = Number(digits) * MULTIPLIERS[suffix!.toLowerCase()]!;
  return Number.isSafeInteger(bytes) ? bytes : null;
}
