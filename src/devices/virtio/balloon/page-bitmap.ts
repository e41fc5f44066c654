// Which guest pages the balloon holds: one bit per 4 KiB page. Snapshots and
// migration skip these pages (their contents are zero and the guest has
// promised not to touch them); a deflated page leaves the set.

export const PAGE_SIZE = 4096;

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

  /** The set as sorted, non-overlapping [start, end) page ranges: compact for saved state. */
  ranges(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    let start = -1;
    for (let page = 0; page <= this.pages; page++) {
      const inSet = page < this.pages && this.has(page);
      if (inSet && start < 0) start = page;
      else if (!inSet && start >= 0) {
        out.push([start, page]);
        start = -1;
      }
    }
    return out;
  }

  /** Replaces the set with these ranges (already validated by the caller). */
  setRanges(ranges: ReadonlyArray<readonly [number, number]>): void {
    this.clear();
    for (const [start, end] of ranges) for (let page = start; page < end; page++) this.add(page);
  }

  private check(page: number): void {
    if (!Number.isInteger(page) || page < 0 || page >= this.pages) {
      throw new RangeError(`page ${page} is outside [0, ${this.pages})`);
    }
  }
}
