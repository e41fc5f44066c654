// Is a 4 KiB page all zero? For dirtied pages, which are rarely zero, a JS
// loop that stops at the first non-zero word beats copying the page into the
// codec's wasm scanner (which wins when most pages are zero: round 0).
import { PAGE_SIZE } from "./page-bitmap.ts";

export function isZeroPage(bytes: Uint8Array): boolean {
  const words =
    bytes.byteOffset % 4 === 0
      ? new Uint32Array(bytes.buffer, bytes.byteOffset, PAGE_SIZE / 4)
      : new Uint32Array(bytes.slice(0, PAGE_SIZE).buffer);
  for (let i = 0; i < words.length; i++) if (words[i] !== 0) return false;
  return true;
}
