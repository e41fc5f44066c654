// The migration receiver against malformed streams (receiver-fuzz.ts says
// how they are made). `npm run test:fuzz` runs more cases and prints the table.
import { describe, expect, it } from "vitest";
import { fuzzReceiver, MUTATIONS, recordMigration } from "./receiver-fuzz.ts";

/** Malformed streams in `npm test`: each carries one broken message, reordering or field. */
const CASES = 10_000;

describe("the migration receiver, fuzzed", () => {
  it(`refuses ${CASES} malformed streams with a reason, or takes them harmlessly; never crashes or hangs`, async () => {
    const recording = await recordMigration();
    expect(recording.messages.length).toBeGreaterThan(5);
    const heapBefore = process.memoryUsage().heapUsed;
    const summary = await fuzzReceiver(recording, CASES);
    const heapGrowth = process.memoryUsage().heapUsed - heapBefore;

    expect(
      summary.failures.map(
        (f) =>
          `${f.mutation} (seed ${f.seed}, message ${f.at} of ${f.stream}): ${f.verdict}: ${f.reason}`,
      ),
    ).toEqual([]);
    expect(summary.cases).toBe(CASES);
    // Every mutation was tried, and most streams are refused: the checks are reached.
    expect([...summary.byMutation.keys()].sort()).toEqual(MUTATIONS.map((m) => m.name).sort());
    expect(summary.byVerdict.refused).toBeGreaterThan(CASES * 0.8);
    for (const [name, verdicts] of summary.byMutation) {
      expect(verdicts.refused, name).toBeGreaterThan(0);
    }
    // Hostile sizes never made the receiver hold on to memory.
    expect(heapGrowth).toBeLessThan(64 * 2 ** 20);
  }, 900_000);
});
