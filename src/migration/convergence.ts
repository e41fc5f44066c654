// When precopy stops and how hard it slows the guest: the source's policy,
// kept apart from its messaging so it can be reasoned about (and tested)
// from round figures alone.
import type { RoundTrace } from "./trace.ts";
import { rate } from "./trace.ts";

/** A dirty set this small is not worth another round. */
const SMALL_DIRTY_PAGES = 16;
/** Auto-converge: each step runs the guest for this share of what it had. */
export const THROTTLE_STEP = 0.6;
export const MIN_THROTTLE = 0.02;
/**
 * Aim below the limit: the estimate misses the pages dirtied between the
 * last harvest and the pause and the destination's restore and start
 * (measured: up to ~10 % over the estimate).
 */
export const DOWNTIME_HEADROOM = 0.8;
/** The slowest link the estimate assumes, so an early short round cannot promise the impossible. */
const MIN_BANDWIDTH = 64 * 1024;

export interface ConvergencePolicy {
  downtimeLimitMs: number;
  maxRounds: number;
  autoConverge: boolean;
}

export class Convergence {
  /** Consecutive rounds in which the guest outran the wire. */
  private outran = 0;
  private previousDirty = Infinity;

  constructor(private readonly policy: ConvergencePolicy) {}

  /** Bytes per second over all acknowledged rounds (short rounds alone underestimate it). */
  bandwidth(rounds: readonly RoundTrace[]): number {
    let bytes = 0;
    let ms = 0;
    for (const entry of rounds) {
      if (entry.final || entry.durationMs === 0) continue;
      bytes += entry.wireBytes;
      ms += entry.durationMs;
    }
    return Math.max(rate(bytes, ms), MIN_BANDWIDTH);
  }

  /** The pause `dirtyPages` would cost: their bytes at the measured rate, and the handshakes. */
  estimateDowntimeMs(
    dirtyPages: number,
    wireBytesPerPage: number,
    rounds: readonly RoundTrace[],
    rttMs: number,
  ): number {
    return (dirtyPages * wireBytesPerPage * 1000) / this.bandwidth(rounds) + 2 * rttMs;
  }

  /**
   * Whether to stop precopy now: what is left fits under the limit with room
   * to spare (and rounds no longer halve it, when one more would still pay),
   * or the round limit is hit.
   */
  switchOver(dirtyPages: number, estimatedMs: number, lastRound: number): boolean {
    const fits = estimatedMs <= this.policy.downtimeLimitMs * DOWNTIME_HEADROOM;
    const shrinking = dirtyPages > SMALL_DIRTY_PAGES && dirtyPages <= this.previousDirty / 2;
    this.previousDirty = dirtyPages;
    return (fits && !shrinking) || lastRound >= this.policy.maxRounds;
  }

  /**
   * Auto-converge: a guest that dirtied faster than half the wire drains,
   * two rounds in a row, gets a smaller share of the host. Returns the new
   * share, or null to leave it.
   */
  nextThrottle(
    current: number,
    last: RoundTrace,
    wireBytesPerPage: number,
    rounds: readonly RoundTrace[],
  ): number | null {
    if (!this.policy.autoConverge) return null;
    const dirtyBytesPerSecond = last.dirtyPagesPerSecond * wireBytesPerPage;
    this.outran = dirtyBytesPerSecond > this.bandwidth(rounds) / 2 ? this.outran + 1 : 0;
    if (this.outran < 2) return null;
    this.outran = 0;
    return Math.max(MIN_THROTTLE, current * THROTTLE_STEP);
  }
}
