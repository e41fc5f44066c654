// virtio-balloon's saved state: the host's target, what the guest reported,
// the pages it holds, and where the statistics exchange stands.
import {
  expectBool,
  expectInt,
  expectNumber,
  expectObject,
  expectVersion,
} from "../../../platform/state-check.ts";
import { STAT_NAMES, type BalloonStats } from "./stats.ts";

export const BALLOON_STATE_VERSION = 1;

export interface BalloonState {
  version: typeof BALLOON_STATE_VERSION;
  /** config num_pages: how many pages the host asks the guest to give. */
  targetPages: number;
  /** config actual: how many the guest says it has given. */
  actualPages: number;
  /** The pages the balloon holds, as [start, end) page ranges. */
  ballooned: Array<[number, number]>;
  stats: BalloonStats;
  /** Machine-clock time of the latest statistics, or null before the first. */
  statsAtNs: number | null;
  /** The stats buffer the device holds until it wants new values (its head index), or null. */
  heldStatsHead: number | null;
  statsIntervalNs: number;
  /** When the next statistics request is due (machine clock), or null when none is planned. */
  nextStatsRequestNs: number | null;
  /** The driver negotiated the statistics queue. */
  statsNegotiated: boolean;
  /** The driver negotiated free page reporting. */
  reportingNegotiated: boolean;
  reportedPages: number;
}

function nullableNumber(fields: Record<string, unknown>, key: string, what: string): number | null {
  return fields[key] === null ? null : expectNumber(fields, key, 0, Number.MAX_SAFE_INTEGER, what);
}

export function parseBalloonState(value: unknown, ramPages: number, what: string): BalloonState {
  const fields = expectObject(value, what);
  expectVersion(fields, BALLOON_STATE_VERSION, what);
  const ranges = fields.ballooned;
  if (!Array.isArray(ranges)) throw new TypeError(`${what}.ballooned must be an array of ranges`);
  let previousEnd = 0;
  const ballooned = ranges.map((range: unknown, i): [number, number] => {
    const where = `${what}.ballooned[${i}]`;
    if (!Array.isArray(range) || range.length !== 2) {
      throw new TypeError(`${where} must be a [start, end) pair`);
    }
    const pair = { start: range[0] as unknown, end: range[1] as unknown };
    const start = expectInt(pair, "start", previousEnd, ramPages, where);
    const end = expectInt(pair, "end", start + 1, ramPages, where);
    previousEnd = end;
    return [start, end];
  });
  const statsFields = expectObject(fields.stats, `${what}.stats`);
  const stats: BalloonStats = {};
  for (const key of Object.keys(statsFields)) {
    if (!(STAT_NAMES as readonly string[]).includes(key)) {
      throw new RangeError(`${what}.stats.${key} is not a balloon statistic`);
    }
    stats[key as keyof BalloonStats] = expectNumber(
      statsFields,
      key,
      0,
      Number.MAX_SAFE_INTEGER,
      `${what}.stats`,
    );
  }
  const heldStatsHead =
    fields.heldStatsHead === null ? null : expectInt(fields, "heldStatsHead", 0, 32767, what);
  return {
    version: BALLOON_STATE_VERSION,
    targetPages: expectInt(fields, "targetPages", 0, ramPages, what),
    actualPages: expectInt(fields, "actualPages", 0, 0xffffffff, what),
    ballooned,
    stats,
    statsAtNs: nullableNumber(fields, "statsAtNs", what),
    heldStatsHead,
    statsIntervalNs: expectNumber(fields, "statsIntervalNs", 0, Number.MAX_SAFE_INTEGER, what),
    nextStatsRequestNs: nullableNumber(fields, "nextStatsRequestNs", what),
    statsNegotiated: expectBool(fields, "statsNegotiated", what),
    reportingNegotiated: expectBool(fields, "reportingNegotiated", what),
    reportedPages: expectNumber(fields, "reportedPages", 0, Number.MAX_SAFE_INTEGER, what),
  };
}
