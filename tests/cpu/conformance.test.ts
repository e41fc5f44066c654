// SingleStepTests 80286 real-mode conformance (../shared/conformance/80286-real,
// see FORMAT.md there): 48,750 single-instruction tests captured on a real
// 286, run on one reused core. 286-vs-386 differences are handled by the
// rules in conformance/exclusions.ts; failures must be listed in
// conformance/known-failures.ts.
import { describe, it, expect, beforeAll } from "vitest";
import { loadSuite, createRunner, hex, type SuiteFile, type Outcome } from "./conformance/runner";
import { RULES } from "./conformance/exclusions";
import { KNOWN_FAILURES } from "./conformance/known-failures";

const REQUIRED_PASS_RATE = 0.995;

// Tests each exclude-only rule is allowed to skip. A change here must be reviewed.
const EXPECTED_EXCLUDED: Record<string, number> = { "longer-than-10-bytes": 10 };

interface FileResult {
  base: string;
  passed: number;
  total: number; // non-excluded
  excluded: number;
}

interface Failure {
  file: string;
  idx: number;
  hash: string;
  name: string;
  diffs: string[];
}

let files: FileResult[] = [];
const failures: Failure[] = [];
const excludedBy: Record<string, number> = {};
const adjustedBy: Record<string, number> = {};
let passed = 0;
let counted = 0;

function printReport(ms: number): void {
  const lines: string[] = [];
  lines.push(
    `80286 real-mode conformance: ${files.length} files in ${ms} ms (passed/total, excluded in [])`,
  );
  const cells = files.map((f) => {
    const cell =
      `${f.base.padEnd(4)} ${String(f.passed).padStart(3)}/${String(f.total).padEnd(3)}` +
      (f.excluded ? `[${f.excluded}]` : "");
    return cell.padEnd(18);
  });
  for (let i = 0; i < cells.length; i += 7) lines.push("  " + cells.slice(i, i + 7).join(" "));
  const worst = files
    .filter((f) => f.passed < f.total)
    .sort((a, b) => a.passed / a.total - b.passed / b.total);
  lines.push(
    `worst files: ${
      worst
        .slice(0, 10)
        .map((f) => `${f.base} ${f.passed}/${f.total}`)
        .join(", ") || "none"
    }`,
  );
  lines.push(`adjusted to 386 behaviour: ${JSON.stringify(adjustedBy)}`);
  lines.push(`excluded: ${JSON.stringify(excludedBy)}`);
  lines.push(
    `overall: ${passed}/${counted} = ${((100 * passed) / counted).toFixed(3)} % of non-excluded tests ` +
      `(${failures.length} failing, ${KNOWN_FAILURES.length} known)`,
  );
  for (const f of failures.slice(0, 20))
    lines.push(`  FAIL ${f.file} #${f.idx} ${f.name}: ${f.diffs.join("; ")}`);
  console.log(lines.join("\n"));
}

describe("SingleStepTests 80286 real mode", () => {
  beforeAll(async () => {
    const t0 = Date.now();
    const suite: SuiteFile[] = loadSuite();
    const runner = await createRunner();
    files = suite.map((file) => {
      const r: FileResult = { base: file.base, passed: 0, total: 0, excluded: 0 };
      for (const test of file.tests) {
        const o: Outcome = runner.run(file, test);
        if (o.status === "excluded") {
          r.excluded++;
          excludedBy[o.rule] = (excludedBy[o.rule] ?? 0) + 1;
          continue;
        }
        for (const a of o.adjusted) adjustedBy[a] = (adjustedBy[a] ?? 0) + 1;
        r.total++;
        if (o.status === "pass") r.passed++;
        else {
          const bytes = test.bytes.map((b) => hex(b, 2)).join(" ");
          failures.push({
            file: file.base,
            idx: test.idx,
            hash: test.hash,
            name: `${test.name} [${bytes}]`,
            diffs: o.diffs,
          });
        }
      }
      passed += r.passed;
      counted += r.total;
      return r;
    });
    printReport(Date.now() - t0);
  }, 180_000);

  it("loads all 325 files of 150 tests", () => {
    expect(files.length).toBe(325);
    expect(files.every((f) => f.total + f.excluded === 150)).toBe(true);
  });

  it(`passes at least ${REQUIRED_PASS_RATE * 100} % of the non-excluded tests`, () => {
    expect(passed / counted).toBeGreaterThanOrEqual(REQUIRED_PASS_RATE);
  });

  it("fails only tests listed in known-failures.ts", () => {
    const known = new Set(KNOWN_FAILURES.map((k) => `${k.file}#${k.idx}:${k.hash}`));
    const unexpected = failures
      .filter((f) => !known.has(`${f.file}#${f.idx}:${f.hash}`))
      .map((f) => `${f.file} #${f.idx} ${f.name}: ${f.diffs.join("; ")}`);
    expect(unexpected).toEqual([]);
  });

  it("has no stale entries in known-failures.ts", () => {
    const failing = new Set(failures.map((f) => `${f.file}#${f.idx}:${f.hash}`));
    const stale = KNOWN_FAILURES.filter((k) => !failing.has(`${k.file}#${k.idx}:${k.hash}`)).map(
      (k) => `${k.file} #${k.idx} now passes or no longer exists: remove it`,
    );
    expect(stale).toEqual([]);
    expect(KNOWN_FAILURES.every((k) => k.reason.trim().length > 0)).toBe(true);
  });

  it("excludes only what the reviewed exclude rules allow", () => {
    for (const rule of RULES) expect(rule.reason.length, rule.id).toBeGreaterThan(0);
    expect(excludedBy).toEqual(EXPECTED_EXCLUDED);
  });
});
