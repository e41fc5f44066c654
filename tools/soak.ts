// `npm run test:soak`: the long soak. 50 moves of the Linux guest under the
// steady workload and 10 under the fast one, Node to Node, each checked
// (digests, counter, boot id); the heap sampled along the way; a figures
// table at the end. Exits non-zero on any failure or on heap growth.
import { parseArgs } from "node:util";
import { describeMove, soak, type SoakResult } from "../tests/reliability/soak.ts";

/** More than this between the first and the last sample is a leak, not noise. */
const HEAP_GROWTH_LIMIT_MIB = 16;
/** Buffers outside the heap (wasm memories): a machine left behind would add its 128 MiB. */
const EXTERNAL_GROWTH_LIMIT_MIB = 64;

const { values } = parseArgs({
  options: {
    moves: { type: "string", default: "50" },
    fast: { type: "string", default: "10" },
  },
});

function growth(result: SoakResult): { heap: number; external: number; rss: number } {
  // From the second sample on (caches warm), when there are enough of them.
  const first = result.memory.length > 2 ? result.memory[1]! : result.memory[0]!;
  const last = result.memory.at(-1)!;
  return {
    heap: last.heapUsedMiB - first.heapUsedMiB,
    external: last.externalMiB - first.externalMiB,
    rss: last.rssMiB - first.rssMiB,
  };
}

async function main(): Promise<number> {
  if (!(globalThis as { gc?: unknown }).gc) {
    console.log("soak: run with node --expose-gc for heap figures after a collection");
  }
  const runs: SoakResult[] = [];
  for (const [workload, moves] of [
    ["steady", Number(values.moves)],
    ["fast", Number(values.fast)],
  ] as const) {
    if (!(moves > 0)) continue;
    console.log(`soak: ${moves} moves under the ${workload} workload`);
    runs.push(
      await soak({ moves, workload, onMove: (move) => console.log(`  ${describeMove(move)}`) }),
    );
  }

  let failed = false;
  console.log(
    "\n| workload | migrations | failed | verified equal | downtime max (ms) | within limit | heap growth (MiB) |",
  );
  console.log(
    "| -------- | ---------: | -----: | -------------: | ----------------: | -----------: | ----------------: |",
  );
  for (const run of runs) {
    const verified = run.moves.filter((move) => move.verified).length;
    const worst = Math.max(...run.moves.map((move) => move.downtimeMs));
    const within = run.moves.filter((move) => move.downtimeMs <= move.downtimeLimitMs).length;
    const grew = growth(run);
    console.log(
      `| ${run.workload} | ${run.moves.length} | ${run.failed} | ${verified} | ${worst.toFixed(1)} | ` +
        `${within}/${run.moves.length} | ${grew.heap.toFixed(1)} (external ${grew.external.toFixed(1)}) |`,
    );
    for (const sample of run.memory) {
      console.log(
        `  after move ${sample.move}: heap ${sample.heapUsedMiB} MiB, external ${sample.externalMiB} MiB, rss ${sample.rssMiB} MiB`,
      );
    }
    if (run.failed > 0 || within < run.moves.length) failed = true;
    if (
      run.memory.length > 2 &&
      (grew.heap > HEAP_GROWTH_LIMIT_MIB || grew.external > EXTERNAL_GROWTH_LIMIT_MIB)
    ) {
      console.log(
        `soak: memory grew over the ${run.workload} soak (heap by more than ` +
          `${HEAP_GROWTH_LIMIT_MIB} MiB, or buffers by more than ${EXTERNAL_GROWTH_LIMIT_MIB} MiB)`,
      );
      failed = true;
    }
  }
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
