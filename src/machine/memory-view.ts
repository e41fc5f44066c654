// What a memory heatmap shows: one byte per guest page saying what the page
// is now: zero, holding data, held by the balloon, just written (fading over
// the next frames), or sent in the migration round under way. It reads the
// machine's dirty log through its own reader, so it never takes pages away
// from a migration's reader, and looks at RAM only to tell zero pages (once
// at the start, then only the pages the guest wrote).
import type { DirtyLogReader } from "./dirty-log.ts";
import type { Machine } from "./machine.ts";
import { PAGE_SIZE, PageBitmap } from "../platform/page-bitmap.ts";
import { isZeroPage } from "../platform/zero-page.ts";

/** The byte values of a frame. Written pages count up from WRITTEN (this frame) to WRITTEN + FADE_FRAMES - 1. */
export const PageShade = {
  ZERO: 0,
  DATA: 1,
  BALLOONED: 2,
  SENT: 3,
  WRITTEN: 16,
} as const;
/** Frames a written page stays marked (at 4 frames a second, 4 s). */
export const FADE_FRAMES = 16;

/** Says which of a run of pages hold data (1) or are zero (0); the page codec's SIMD scan does it fast. */
export type ZeroScanner = (pages: Uint8Array) => Uint8Array;

export class MemoryView {
  private readonly reader: DirtyLogReader;
  private readonly pages: number;
  private readonly zero: PageBitmap;
  /** Frames since each page was last written (FADE_FRAMES: long ago). */
  private readonly age: Uint8Array;
  private migration: { round: number; sent: PageBitmap } | null = null;

  constructor(
    private readonly machine: Machine,
    scan: ZeroScanner,
  ) {
    this.reader = machine.dirtyLog.open();
    this.pages = machine.core.memory.ramBytes / PAGE_SIZE;
    this.zero = new PageBitmap(this.pages);
    this.age = new Uint8Array(this.pages).fill(FADE_FRAMES);
    const chunk = 64;
    for (let first = 0; first < this.pages; first += chunk) {
      const count = Math.min(chunk, this.pages - first);
      machine.core.memory.withView(first * PAGE_SIZE, count * PAGE_SIZE, (bytes) => {
        const hasData = scan(bytes);
        for (let i = 0; i < count; i++) if (hasData[i] === 0) this.zero.add(first + i);
      });
    }
  }

  /** A migration's round began: its sent pages (a live set the engine fills) show as such. */
  watchRound(round: number, sent: PageBitmap): void {
    this.migration = { round, sent };
  }

  /** The migration ended: no more pages are being sent. */
  migrationEnded(): void {
    this.migration = null;
  }

  /** The round being shown, or null outside a migration. */
  get round(): number | null {
    return this.migration?.round ?? null;
  }

  /** One frame: a byte per page (PageShade). Call it a few times a second. */
  frame(): Uint8Array {
    const written = this.reader.collect();
    for (let page = 0; page < this.pages; page++) {
      if (this.age[page]! < FADE_FRAMES) this.age[page]!++;
    }
    const memory = this.machine.core.memory;
    written.forEach((page) => {
      const zero = memory.withView(page * PAGE_SIZE, PAGE_SIZE, isZeroPage);
      // A page written with zeros is one the balloon took or the guest reported free
      // (the device zeroes them): it shows as zero, not as the guest's work.
      if (zero) {
        this.zero.add(page);
        this.age[page] = FADE_FRAMES;
      } else {
        this.zero.delete(page);
        this.age[page] = 0;
      }
    });
    const ballooned = this.machine.balloon?.ballooned;
    const sent = this.migration?.sent;
    const out = new Uint8Array(this.pages);
    for (let page = 0; page < this.pages; page++) {
      let shade: number;
      if (ballooned?.has(page)) shade = PageShade.BALLOONED;
      else if (sent?.has(page)) shade = PageShade.SENT;
      else if (this.age[page]! < FADE_FRAMES) shade = PageShade.WRITTEN + this.age[page]!;
      else shade = this.zero.has(page) ? PageShade.ZERO : PageShade.DATA;
      out[page] = shade;
    }
    return out;
  }

  close(): void {
    this.reader.close();
  }
}
