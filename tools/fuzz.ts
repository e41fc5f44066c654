// `npm run test:fuzz`: the migration receiver and the snapshot loader against
// many malformed inputs (tests/reliability/*-fuzz.ts say how they are made),
// with a table at the end. Exits non-zero on any crash, hang, unclear
// refusal, missed check or a refused input that changed the machine.
import { parseArgs } from "node:util";
import { fuzzReceiver, recordMigration } from "../tests/reliability/receiver-fuzz.ts";
import { fuzzSnapshots } from "../tests/reliability/snapshot-fuzz.ts";

const { values } = parseArgs({
  options: {
    streams: { type: "string", default: "50000" },
    snapshots: { type: "string", default: "10000" },
    seed: { type: "string", default: "1" },
  },
});

async function main(): Promise<number> {
  const seed = Number(values.seed);
  const streams = Number(values.streams);
  console.log(`fuzz: ${streams} malformed migration streams (seeds from ${seed})`);
  const recording = await recordMigration();
  const heapBefore = process.memoryUsage().heapUsed;
  const receiver = await fuzzReceiver(recording, streams, seed, (done) => {
    if (done % 10_000 === 0) console.log(`  ${done} streams`);
  });
  (globalThis as { gc?: () => void }).gc?.();
  const heapGrowthMiB = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;

  const snapshotCases = Number(values.snapshots);
  console.log(`fuzz: ${snapshotCases} damaged snapshot files`);
  const snapshots = await fuzzSnapshots(snapshotCases, seed);

  console.log("\n| input | tried | refused with a reason | taken (harmless) | failures |");
  console.log("| ----- | ----: | --------------------: | ---------------: | -------: |");
  const v = receiver.byVerdict;
  console.log(
    `| migration streams | ${receiver.cases} | ${v.refused} | ${v.accepted} | ${receiver.failures.length} |`,
  );
  console.log(
    `| snapshot files | ${snapshots.cases} | ${snapshots.refused} | ${snapshots.loaded} | ${snapshots.failures.length} |`,
  );
  console.log(`\nper mutation (refused / taken):`);
  for (const [name, verdicts] of receiver.byMutation) {
    console.log(`  ${name}: ${verdicts.refused} / ${verdicts.accepted}`);
  }
  console.log(
    `the receiver's heap after all streams: ${heapGrowthMiB.toFixed(1)} MiB more than before`,
  );
  console.log(
    `taken, by the first message changed (the guest's RAM differed in ${receiver.acceptedDifferent}):`,
  );
  for (const [what, count] of [...receiver.taken].sort((a, b) => b[1] - a[1])) {
    console.log(`  ${String(count).padStart(6)}  ${what}`);
  }
  console.log(`the most frequent refusals:`);
  for (const [reason, count] of [...receiver.reasons].sort((a, b) => b[1] - a[1]).slice(0, 12)) {
    console.log(`  ${String(count).padStart(6)}  ${reason}`);
  }
  const failures = [
    ...receiver.failures.map(
      (f) =>
        `${f.mutation} (seed ${f.seed}, message ${f.at} of ${f.stream}): ${f.verdict}: ${f.reason}`,
    ),
    ...snapshots.failures,
  ];
  for (const failure of failures.slice(0, 20)) console.log(`FAILED: ${failure}`);
  return failures.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
