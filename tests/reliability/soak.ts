// Many live migrations of the Linux guest in a row, between two machines in
// one process over a link as fast as a data channel: after every move the
// RAM and state digests must match on both sides, the guest's counter must
// go on and its boot id stay. Used by the short soak in `npm test` and by
// `npm run test:soak` (tools/soak.ts), which runs the long one.
import { receiveMigration } from "../../src/migration/destination.ts";
import { migrateOut } from "../../src/migration/source.ts";
import type { MigrationTrace } from "../../src/migration/trace.ts";
import { memoryTransportPair } from "../../src/migration/transports/memory.ts";
import { LinuxSession } from "../helpers/linux-guest.ts";
import { sharedCodec, sleep } from "../migration/helpers.ts";

/** The data channel's rate measured here (../shared/browser.md: 11-20 MB/s). */
const LINK = { bytesPerSecond: 15e6, latencyMs: 0.5 };

/** The migration issue's workloads, as the bench runs them. */
export const WORKLOADS = {
  /** ~16 MB/s of fresh data: the link keeps up. */
  steady: "while :; do dd if=/dev/urandom of=/dev/shm/x bs=64k count=16 2>/dev/null; done &",
  /** Dirties faster than the link drains: only auto-converge lets it finish. */
  fast: "i=0; while :; do i=$((i+1)); (echo $i; cat /bin/busybox /bin/busybox /bin/busybox /bin/busybox) > /dev/shm/x; done &",
} as const;
export type Workload = keyof typeof WORKLOADS;

export interface MoveRecord {
  move: number;
  direction: "A->B" | "B->A";
  outcome: string;
  reason: string | null;
  verified: boolean;
  downtimeMs: number;
  downtimeLimitMs: number;
  totalMs: number;
  rounds: number;
  lowestThrottle: number;
  counterBefore: number;
  counterAfter: number;
  bootIdKept: boolean;
  /** What went wrong after a completed move (a check that failed), or null. */
  problem: string | null;
}

export interface MemorySample {
  move: number;
  heapUsedMiB: number;
  externalMiB: number;
  rssMiB: number;
}

export interface SoakResult {
  workload: Workload;
  moves: MoveRecord[];
  failed: number;
  memory: MemorySample[];
}

export interface SoakOptions {
  moves: number;
  workload: Workload;
  /** Called after every move, for a running report. */
  onMove?: (record: MoveRecord) => void;
  /** Sample the heap every this many moves (after a collection when --expose-gc gave one). */
  memoryEvery?: number;
}

const counter = async (guest: LinuxSession) => Number(await guest.run("cat /tmp/count"));

async function sampleMemory(move: number): Promise<MemorySample> {
  // Collect twice around a pause: a dropped machine's wasm memory goes on the second pass.
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  await sleep(100);
  gc?.();
  const usage = process.memoryUsage();
  const mib = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;
  return {
    move,
    heapUsedMiB: mib(usage.heapUsed),
    externalMiB: mib(usage.external),
    rssMiB: mib(usage.rss),
  };
}

async function moveOnce(
  from: LinuxSession,
): Promise<{ to: LinuxSession | null; trace: MigrationTrace }> {
  const codec = await sharedCodec();
  const [a, b] = memoryTransportPair(LINK);
  const { session, create } = LinuxSession.forIncoming();
  const incoming = receiveMigration(b, { codec, createMachine: create });
  const trace = await migrateOut(from.machine, a, { codec, verify: true });
  const arrived = await incoming;
  return { to: arrived.machine ? session : null, trace };
}

export async function soak(options: SoakOptions): Promise<SoakResult> {
  let guest = await LinuxSession.boot();
  await guest.waitForPrompt(120_000);
  guest.type("(i=0; while :; do i=$((i+1)); echo $i > /tmp/count; sleep 0.1; done) &\r");
  const bootId = await guest.run("cat /proc/sys/kernel/random/boot_id");
  guest.type(`${WORKLOADS[options.workload]}\r`);
  await sleep(1000);
  const moves: MoveRecord[] = [];
  const memory: MemorySample[] = [];
  const memoryEvery = options.memoryEvery ?? 10;
  try {
    for (let move = 1; move <= options.moves; move++) {
      const counterBefore = await counter(guest);
      const { to, trace } = await moveOnce(guest);
      const record: MoveRecord = {
        move,
        direction: move % 2 === 1 ? "A->B" : "B->A",
        outcome: trace.outcome,
        reason: trace.reason,
        verified: trace.verify?.match === true,
        downtimeMs: trace.downtimeMs ?? NaN,
        downtimeLimitMs: trace.settings.downtimeLimitMs,
        totalMs: trace.totalMs,
        rounds: trace.rounds.length,
        lowestThrottle: Math.min(...trace.rounds.map((round) => round.throttle)),
        counterBefore,
        counterAfter: NaN,
        bootIdKept: false,
        problem: null,
      };
      if (to) {
        await guest.close();
        guest = to;
        await sleep(250); // the counter ticks every 100 ms
        record.counterAfter = await counter(guest);
        record.bootIdKept = (await guest.run("cat /proc/sys/kernel/random/boot_id")) === bootId;
        record.problem = !record.verified
          ? "RAM or state digests differ"
          : !(record.counterAfter > counterBefore)
            ? `the counter did not go on (${counterBefore} then ${record.counterAfter})`
            : !record.bootIdKept
              ? "the boot id changed"
              : null;
      } else {
        record.problem = `not moved: ${trace.reason}`;
      }
      moves.push(record);
      options.onMove?.(record);
      if (move === 1 || move % memoryEvery === 0) memory.push(await sampleMemory(move));
    }
  } finally {
    await guest.close();
  }
  return {
    workload: options.workload,
    moves,
    failed: moves.filter((record) => record.problem !== null).length,
    memory,
  };
}

/** One line per move, for a person watching the soak. */
export function describeMove(record: MoveRecord): string {
  const verdict = record.problem ?? "ok";
  return (
    `move ${String(record.move).padStart(2)} ${record.direction}: ${record.outcome}, ` +
    `downtime ${record.downtimeMs.toFixed(1)} ms (limit ${record.downtimeLimitMs}), ` +
    `${record.rounds} rounds, lowest throttle ${record.lowestThrottle.toFixed(2)}, ` +
    `counter ${record.counterBefore} -> ${record.counterAfter}: ${verdict}`
  );
}
