// Snapshot files, damaged in many ways (snapshot-fuzz.ts says how): refused
// with a reason and the machine left as it was. `npm run test:fuzz` runs more.
import { describe, expect, it } from "vitest";
import { fuzzSnapshots } from "./snapshot-fuzz.ts";

const CASES = 2000;

describe("snapshot files, fuzzed", () => {
  it(`refuses ${CASES} damaged files with a reason and changes nothing`, async () => {
    const summary = await fuzzSnapshots(CASES);
    expect(summary.failures).toEqual([]);
    expect(summary.cases).toBe(CASES);
    expect(summary.refused).toBeGreaterThan(CASES * 0.9);
  }, 300_000);
});
