// The guest's journey as this page knows it: its clock against the host's
// over time, and the moves it made. It travels with the guest (HELLO's
// journal), so the tab it lands in can draw the whole story, and it is
// checked on arrival like anything else from a peer.

/** One reading: the host's wall clock (epoch ms) and guest minus host (ms). */
export type ClockSample = [hostMs: number, driftMs: number];

export interface Move {
  /** Host wall clock when the guest resumed at its destination. */
  atMs: number;
  downtimeMs: number;
  to: string;
}

const MAX_SAMPLES = 720;
const MAX_MOVES = 50;

export class Journal {
  clock: ClockSample[] = [];
  moves: Move[] = [];

  addSample(sample: ClockSample): void {
    this.clock.push(sample);
    // Keep it small enough to travel: drop every other old sample when full.
    if (this.clock.length > MAX_SAMPLES) {
      const half = MAX_SAMPLES / 2;
      const older = this.clock.slice(0, half).filter((_, i) => i % 2 === 0);
      this.clock = [...older, ...this.clock.slice(half)];
    }
  }

  addMove(move: Move): void {
    this.moves = [...this.moves, move].slice(-MAX_MOVES);
  }

  toJSON(): Record<string, unknown> {
    return { clock: this.clock, moves: this.moves };
  }

  /** The journey a peer sent; anything malformed is dropped (it is only for display). */
  static from(value: unknown): Journal {
    const journal = new Journal();
    const record = (typeof value === "object" && value !== null ? value : {}) as Record<
      string,
      unknown
    >;
    if (Array.isArray(record.clock)) {
      for (const sample of record.clock.slice(-MAX_SAMPLES)) {
        if (
          Array.isArray(sample) &&
          sample.length === 2 &&
          sample.every((v) => typeof v === "number" && Number.isFinite(v))
        ) {
          journal.clock.push([sample[0], sample[1]]);
        }
      }
    }
    if (Array.isArray(record.moves)) {
      for (const move of record.moves.slice(-MAX_MOVES)) {
        const m = move as Partial<Move> | null;
        if (
          m &&
          typeof m.atMs === "number" &&
          Number.isFinite(m.atMs) &&
          typeof m.downtimeMs === "number" &&
          Number.isFinite(m.downtimeMs) &&
          typeof m.to === "string"
        ) {
          journal.moves.push({ atMs: m.atMs, downtimeMs: m.downtimeMs, to: m.to.slice(0, 80) });
        }
      }
    }
    return journal;
  }
}
