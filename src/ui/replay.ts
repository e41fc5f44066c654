// Replays a saved migration trace with no guest: the heatmap fills round by
// round with the pages each round sent (the rounds' page maps), the rounds'
// bars and charts grow as they did, and the downtime comes up at the end;
// at any speed, so a talk can slow a 300 ms move down to watch it.
import { PageShade } from "../machine/memory-view.ts";
import type { MigrationProgress } from "../migration/source.ts";
import type { MigrationTrace } from "../migration/trace.ts";
import { PageBitmap } from "../platform/page-bitmap.ts";

export interface ReplaySinks {
  frame(shades: Uint8Array): void;
  progress(progress: MigrationProgress): void;
  finished(trace: MigrationTrace): void;
  /** How far the replay is, 0..1, and whether it plays. */
  position(fraction: number, playing: boolean): void;
}

/** After the last round, the result stays up this long (trace ms) before the end. */
const TAIL_MS = 200;

export class Replay {
  private readonly pages: number;
  private readonly ballooned: PageBitmap | null;
  private readonly sent: number[][];
  private readonly endMs: number;
  private speed = 1;
  private at = 0;
  private playing = false;
  private lastTick = 0;
  private handle = 0;

  constructor(
    readonly trace: MigrationTrace,
    private readonly sinks: ReplaySinks,
  ) {
    this.pages = trace.ramBytes / 4096;
    this.ballooned = trace.balloonedMap
      ? PageBitmap.fromBase64(this.pages, trace.balloonedMap)
      : null;
    this.sent = trace.rounds.map((round) => {
      const pages: number[] = [];
      if (round.sentMap)
        PageBitmap.fromBase64(this.pages, round.sentMap).forEach((p) => pages.push(p));
      return pages;
    });
    const last = trace.rounds[trace.rounds.length - 1]!;
    this.endMs = Math.max(trace.totalMs, last.startMs + last.durationMs) + TAIL_MS;
  }

  setSpeed(speed: number): void {
    this.speed = speed;
  }

  play(): void {
    if (this.playing) return;
    if (this.at >= this.endMs) this.at = 0;
    this.playing = true;
    this.lastTick = performance.now();
    this.handle = requestAnimationFrame(() => this.tick());
  }

  pause(): void {
    this.playing = false;
    cancelAnimationFrame(this.handle);
    this.render();
  }

  restart(): void {
    this.at = 0;
    this.render();
    this.play();
  }

  stop(): void {
    this.pause();
  }

  get isPlaying(): boolean {
    return this.playing;
  }

  private tick(): void {
    if (!this.playing) return;
    const now = performance.now();
    this.at = Math.min(this.endMs, this.at + (now - this.lastTick) * this.speed);
    this.lastTick = now;
    this.render();
    if (this.at >= this.endMs) {
      this.playing = false;
      this.sinks.position(1, false);
      this.sinks.finished(this.trace);
      return;
    }
    this.handle = requestAnimationFrame(() => this.tick());
  }

  /** Draws the moment `this.at` (trace ms). */
  private render(): void {
    const rounds = this.trace.rounds;
    let current = -1;
    for (let i = 0; i < rounds.length; i++) if (rounds[i]!.startMs <= this.at) current = i;
    const shades = new Uint8Array(this.pages);
    // What round `current` found: everything sent before is data; its own pages were just written.
    for (let i = 0; i < current; i++)
      for (const page of this.sent[i]!) shades[page] = PageShade.DATA;
    if (current >= 0) {
      const round = rounds[current]!;
      const pages = this.sent[current]!;
      const fraction =
        round.durationMs > 0 ? Math.min(1, (this.at - round.startMs) / round.durationMs) : 1;
      const done = Math.round(pages.length * fraction);
      for (let i = 0; i < pages.length; i++) {
        shades[pages[i]!] =
          i < done ? PageShade.SENT : current === 0 ? PageShade.DATA : PageShade.WRITTEN;
      }
      this.sinks.progress({
        phase: round.final ? "stop-and-copy" : "precopy",
        round: round.round,
        roundDone: Math.round(round.candidatePages * fraction),
        roundTotal: round.candidatePages,
        trace: this.partialTrace(current, fraction),
      });
    }
    this.ballooned?.forEach((page) => (shades[page] = PageShade.BALLOONED));
    this.sinks.frame(shades);
    this.sinks.position(this.at / this.endMs, this.playing);
  }

  /** The trace as it stood: rounds up to `current`, that one part-way. */
  private partialTrace(current: number, fraction: number): MigrationTrace {
    const rounds = this.trace.rounds.slice(0, current + 1).map((round, i) => {
      if (i < current || fraction >= 1) return round;
      return {
        ...round,
        durationMs: 0,
        dataPages: Math.round(round.dataPages * fraction),
        wireBytes: Math.round(round.wireBytes * fraction),
      };
    });
    return { ...this.trace, rounds };
  }
}
