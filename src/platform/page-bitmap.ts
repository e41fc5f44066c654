// A set of guest pages, one bit per 4 KiB page, in 32-bit words (bit
// page % 32 of word page / 32: the same layout as the core's dirty bitmap
// read as little-endian words). The balloon keeps the pages it holds in one;
// the dirty log and the migration keep page sets in them.

export const PAGE_SIZE = 4096;

function popcount(word: number): number {
  let v = word - ((word >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

export class PageBitmap {
  private readonly bits: Uint32Array;
  private population = 0;

  constructor(readonly pages: number) {
    if (!Number.isInteger(pages) || pages < 0) throw new RangeError(`bad page count ${pages}`);
    this.bits = new Uint32Array(Math.ceil(pages / 32));
  }

  /** Pages in the set. */
  get count(): number {
    return this.population;
  }

  /** The words themselves, read-only to callers (bits past `pages` are always clear). */
  get words(): Readonly<Uint32Array> {
    return this.bits;
  }

  has(page: number): boolean {
    return (this.bits[page >>> 5]! & (1 << (page & 31))) !== 0;
  }

  /** Adds a page; false when it was already in the set. */
  add(page: number): boolean {
    this.check(page);
    const word = page >>> 5;
    const bit = 1 << (page & 31);
    if (this.bits[word]! & bit) return false;
    this.bits[word]! |= bit;
    this.population++;
    return true;
  }

  /** Removes a page; false when it was not in the set. */
  delete(page: number): boolean {
    this.check(page);
    const word = page >>> 5;
    const bit = 1 << (page & 31);
    if (!(this.bits[word]! & bit)) return false;
    this.bits[word]! &= ~bit;
    this.population--;
    return true;
  }

  clear(): void {
    this.bits.fill(0);
    this.population = 0;
  }

  /** Adds every page set in `words` (same layout) that is not set in `except`. */
  addWords(words: ArrayLike<number>, except?: Readonly<Uint32Array>): void {
    const n = Math.min(words.length, this.bits.length);
    const tail = this.pages % 32;
    for (let i = 0; i < n; i++) {
      let add = words[i]! & ~(except ? except[i]! : 0);
      if (i === this.bits.length - 1 && tail !== 0) add &= (1 << tail) - 1;
      if (add === 0) continue;
      const before = this.bits[i]!;
      const after = (before | add) >>> 0;
      if (after !== before) {
        this.population += popcount(after) - popcount(before);
        this.bits[i] = after;
      }
    }
  }

  /** Adds every page of `other` (same size). */
  addAll(other: PageBitmap): void {
    this.addWords(other.bits);
  }

  /** Removes every page of `other` (same size). */
  deleteAll(other: PageBitmap): void {
    const n = Math.min(other.bits.length, this.bits.length);
    for (let i = 0; i < n; i++) {
      const before = this.bits[i]!;
      const drop = before & other.bits[i]!;
      if (drop === 0) continue;
      this.bits[i] = before & ~drop;
      this.population -= popcount(drop);
    }
  }

  /** Calls `visit` for each page in the set, in ascending order. */
  forEach(visit: (page: number) => void): void {
    for (let i = 0; i < this.bits.length; i++) {
      let word = this.bits[i]!;
      while (word !== 0) {
        const bit = 31 - Math.clz32(word & -word);
        visit(i * 32 + bit);
        word &= word - 1;
      }
    }
  }

  /** The set as sorted, non-overlapping [start, end) page ranges: compact for saved state. */
  ranges(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    let start = -1;
    let previous = -2;
    this.forEach((page) => {
      if (page !== previous + 1) {
        if (start >= 0) out.push([start, previous + 1]);
        start = page;
      }
      previous = page;
    });
    if (start >= 0) out.push([start, previous + 1]);
    return out;
  }

  /** Replaces the set with these ranges (already validated by the caller). */
  setRanges(ranges: ReadonlyArray<readonly [number, number]>): void {
    this.clear();
    for (const [start, end] of ranges) for (let page = start; page < end; page++) this.add(page);
  }

  /** The set as base64 of its words' little-endian bytes: compact for traces (4 KiB per 128 MiB). */
  toBase64(): string {
    const bytes = new Uint8Array(this.bits.buffer, this.bits.byteOffset, this.bits.byteLength);
    let binary = "";
    for (let i = 0; i < bytes.length; i += 0x8000) {
      binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    }
    return btoa(binary);
  }

  /** A set of `pages` pages from toBase64()'s text; throws on text of another size. */
  static fromBase64(pages: number, text: string): PageBitmap {
    const set = new PageBitmap(pages);
    const binary = atob(text);
    if (binary.length !== set.bits.byteLength) {
      throw new RangeError(`a page map of ${binary.length} bytes is not one of ${pages} pages`);
    }
    const words = new Uint32Array(set.bits.length);
    const bytes = new Uint8Array(words.buffer);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    set.addWords(words);
    return set;
  }

  private check(page: number): void {
    if (!Number.isInteger(page) || page < 0 || page >= this.pages) {
      throw new RangeError(`page ${page} is outside [0, ${this.pages})`);
    }
  }
}
