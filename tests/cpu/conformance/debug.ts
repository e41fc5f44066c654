// Developer aid: npx tsx tests/cpu/conformance/debug.ts [FILE...] [--max N]
// Runs the suite (or the named files) and prints each failure with its diffs.
import { loadSuite, createRunner, hex } from "./runner";

const args = process.argv.slice(2);
const maxIdx = args.indexOf("--max");
const max = maxIdx >= 0 ? Number(args[maxIdx + 1]) : 5;
const only = args.filter((a, i) => !a.startsWith("--") && (maxIdx < 0 || i !== maxIdx + 1));

const t0 = Date.now();
const suite = loadSuite().filter((f) => only.length === 0 || only.includes(f.base));
const t1 = Date.now();
const runner = await createRunner();
let pass = 0,
  fail = 0,
  excl = 0;
const byRule: Record<string, number> = {};
const byAdj: Record<string, number> = {};
const perFile: string[] = [];
for (const file of suite) {
  let shown = 0,
    ff = 0;
  for (const t of file.tests) {
    const o = runner.run(file, t);
    if (o.status !== "excluded") for (const a of o.adjusted) byAdj[a] = (byAdj[a] ?? 0) + 1;
    if (o.status === "pass") pass++;
    else if (o.status === "excluded") {
      excl++;
      byRule[o.rule] = (byRule[o.rule] ?? 0) + 1;
    } else {
      fail++;
      ff++;
      if (shown++ < max) {
        console.log(
          `${file.base} #${t.idx} ${t.name} [${t.bytes.map((b) => hex(b, 2)).join(" ")}]` +
            (t.exception ? ` exc ${t.exception.number}` : ""),
        );
        console.log("   " + o.diffs.join("; "));
      }
    }
  }
  if (ff) perFile.push(`${file.base}:${ff}`);
}
console.log(`load ${t1 - t0} ms, run ${Date.now() - t1} ms`);
console.log(
  `pass ${pass} fail ${fail} excluded ${excl} rate ${((100 * pass) / (pass + fail)).toFixed(3)}%`,
);
console.log("excluded by rule: " + JSON.stringify(byRule));
console.log("adjusted by rule: " + JSON.stringify(byAdj));
console.log("failing files: " + perFile.join(" "));
