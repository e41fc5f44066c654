// The short soak inside `npm test`: a few moves of the Linux guest under the
// steady and the fast workloads. `npm run test:soak` runs the long one.
import { describe, expect, it } from "vitest";
import { describeMove, soak } from "./soak.ts";

describe("migrations in a row", () => {
  it("moves a guest under steady writes back and forth: digests equal, counter on, boot id kept", async () => {
    const result = await soak({ moves: 10, workload: "steady" });
    const problems = result.moves.filter((move) => move.problem).map(describeMove);
    expect(problems).toEqual([]);
    expect(result.moves.every((move) => move.verified && move.bootIdKept)).toBe(true);
    expect(result.moves.map((move) => move.direction).slice(0, 3)).toEqual([
      "A->B",
      "B->A",
      "A->B",
    ]);
  }, 300_000);

  it("a guest that outruns the link is throttled and every move fits the downtime limit", async () => {
    const result = await soak({ moves: 2, workload: "fast" });
    expect(result.moves.filter((move) => move.problem).map(describeMove)).toEqual([]);
    for (const move of result.moves) {
      expect(move.lowestThrottle).toBeLessThan(1);
      expect(move.downtimeMs).toBeLessThanOrEqual(move.downtimeLimitMs);
    }
  }, 300_000);
});
