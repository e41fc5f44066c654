// The source's convergence policy from round figures alone: the bandwidth it
// believes, the downtime it predicts, when it stops precopy and how it
// throttles a guest that outruns the wire.
import { describe, expect, it } from "vitest";
import {
  Convergence,
  DOWNTIME_HEADROOM,
  MIN_THROTTLE,
  THROTTLE_STEP,
} from "../../src/migration/convergence.ts";
import { newRound, type RoundTrace } from "../../src/migration/trace.ts";

function round(fields: Partial<RoundTrace>): RoundTrace {
  return newRound(fields.round ?? 0, 0, { durationMs: 100, ...fields });
}

const policy = { downtimeLimitMs: 300, maxRounds: 30, autoConverge: true };

describe("Convergence", () => {
  it("believes the bandwidth of all precopy rounds together, never the stop-and-copy's", () => {
    const convergence = new Convergence(policy);
    const rounds = [
      round({ wireBytes: 2_000_000, durationMs: 200 }),
      round({ round: 1, wireBytes: 100_000, durationMs: 50 }),
      round({ round: 2, wireBytes: 1, durationMs: 1000, final: true }),
    ];
    expect(convergence.bandwidth(rounds)).toBeCloseTo(2_100_000 / 0.25, 0);
    // Before anything was measured it assumes a slow link, not an instant one.
    expect(convergence.bandwidth([])).toBe(64 * 1024);
  });

  it("predicts the pause from the dirty pages' bytes and two round trips", () => {
    const convergence = new Convergence(policy);
    const rounds = [round({ wireBytes: 10_000_000, durationMs: 1000 })]; // 10 MB/s
    expect(convergence.estimateDowntimeMs(1000, 2000, rounds, 5)).toBeCloseTo(200 + 10, 6);
  });

  it("stops when the rest fits, but not while rounds still halve the dirty set", () => {
    const convergence = new Convergence(policy);
    expect(convergence.switchOver(5000, 900, 0)).toBe(false); // does not fit
    expect(convergence.switchOver(2000, 250, 1)).toBe(false); // fits, yet halved: one more round pays
    expect(convergence.switchOver(1500, 200, 2)).toBe(true); // fits, no longer halving
    const tiny = new Convergence(policy);
    expect(tiny.switchOver(10, 1, 0)).toBe(true); // too few pages to be worth a round
  });

  it("aims below the limit: an estimate just under it is not yet a fit", () => {
    const convergence = new Convergence(policy);
    expect(convergence.switchOver(100, 290, 1)).toBe(false);
    expect(convergence.switchOver(100, 300 * DOWNTIME_HEADROOM, 2)).toBe(true);
  });

  it("stops at the round limit even when the rest does not fit", () => {
    const convergence = new Convergence({ ...policy, maxRounds: 3 });
    expect(convergence.switchOver(9000, 5000, 2)).toBe(false);
    expect(convergence.switchOver(9000, 5000, 3)).toBe(true);
  });

  it("throttles a guest that outran half the wire two rounds in a row, step by step to a floor", () => {
    const convergence = new Convergence(policy);
    const rounds = [round({ wireBytes: 1_000_000, durationMs: 1000 })]; // 1 MB/s
    const fast = round({ dirtyPagesPerSecond: 1000 }); // x 1000 bytes a page: 1 MB/s dirtied
    const slow = round({ dirtyPagesPerSecond: 100 });
    expect(convergence.nextThrottle(1, fast, 1000, rounds)).toBeNull(); // once is not yet a trend
    expect(convergence.nextThrottle(1, slow, 1000, rounds)).toBeNull(); // and the count starts over
    expect(convergence.nextThrottle(1, fast, 1000, rounds)).toBeNull();
    expect(convergence.nextThrottle(1, fast, 1000, rounds)).toBeCloseTo(THROTTLE_STEP, 9);
    let share = 1;
    for (let i = 0; i < 40; i++)
      share = convergence.nextThrottle(share, fast, 1000, rounds) ?? share;
    expect(share).toBe(MIN_THROTTLE);
    const off = new Convergence({ ...policy, autoConverge: false });
    for (let i = 0; i < 4; i++) expect(off.nextThrottle(1, fast, 1000, rounds)).toBeNull();
  });
});
