// What a migration did, as plain JSON: the visualizations draw it, the
// benchmark tabulates it, the page and the monitor summarize it.

export const TRACE_VERSION = 1;

export type MigrationOutcome =
  /** The destination runs the guest; the source let it go. */
  | "completed"
  /** Called off before GO: the source runs the guest as before. */
  | "abandoned"
  /** The wire broke after GO and before RESUMED: the source kept a paused copy. */
  | "unknown";

export interface RoundTrace {
  round: number;
  /** ms since the migration started. */
  startMs: number;
  durationMs: number;
  /** Pages looked at: every page in round 0, the dirty log's pages later. */
  candidatePages: number;
  /** Pages sent with their bytes. */
  dataPages: number;
  /** Pages sent as a zero flag (or, in round 0, left out because the destination starts zeroed). */
  zeroPages: number;
  /** Pages the balloon held, left out. */
  balloonedPages: number;
  /** Pages not looked at: the dirty log says they are as sent. */
  unchangedPages: number;
  /** Page bytes before the codec, and everything on the wire (headers included). */
  rawBytes: number;
  wireBytes: number;
  /** Pages the guest dirtied per second during this round. */
  dirtyPagesPerSecond: number;
  /** Wire bytes per second, measured to the destination's acknowledgement. */
  bandwidthBytesPerSecond: number;
  /** Fraction of host time the guest ran during the round (auto-converge). */
  throttle: number;
  /** Host time the dirty log's harvest of this round's pages took (0 for round 0). */
  harvestMs: number;
  /** The downtime the dirty pages left after this round would have cost. */
  estimatedDowntimeMs: number;
  /** True for the stop-and-copy round, sent with the guest paused. */
  final: boolean;
  /** The pages this round sent (data or zero), as PageBitmap.toBase64(): what a replay animates. */
  sentMap?: string;
}

export interface MigrationTrace {
  version: typeof TRACE_VERSION;
  role: "source" | "destination";
  transport: string;
  /** Wall-clock start (ISO 8601), for the record only. */
  startedAt: string;
  ramBytes: number;
  /** The pages the balloon held when round 0 began (PageBitmap.toBase64()). */
  balloonedMap?: string;
  settings: {
    downtimeLimitMs: number;
    maxRounds: number;
    autoConverge: boolean;
    verify: boolean;
    codec: string;
  };
  rounds: RoundTrace[];
  totals: {
    dataPages: number;
    zeroPages: number;
    balloonedPages: number;
    rawBytes: number;
    wireBytes: number;
    stateBytes: number;
    /** Raw page bytes / page bytes on the wire. */
    compressionRatio: number;
  };
  /** Round-trip time measured before round 0. */
  rttMs: number;
  /** From start to the destination's RESUMED (or to the end, when it did not complete). */
  totalMs: number;
  /** From the source's pause to the destination's RESUMED, on the source's clock. */
  downtimeMs: number | null;
  /** How far the destination moved the guest's clock for the downtime. */
  clockAdvanceMs: number | null;
  /** The switchover step by step, in ms from the source's pause (null before the pause). */
  switchover: {
    lastPagesQueuedMs: number;
    stateQueuedMs: number;
    lastPagesAckedMs: number;
    readyMs: number;
    goMs: number;
    resumedMs: number;
  } | null;
  /** Verify mode: digests of RAM and state on both sides. */
  verify: { ram: string; state: string; match: boolean } | null;
  outcome: MigrationOutcome;
  /** Why it did not complete, in words for a person. */
  reason: string | null;
}

/** A trace before anything happened: no rounds, no bytes, not completed. */
export function newTrace(
  role: MigrationTrace["role"],
  transport: string,
  ramBytes: number,
  settings: MigrationTrace["settings"],
): MigrationTrace {
  return {
    version: TRACE_VERSION,
    role,
    transport,
    startedAt: new Date().toISOString(),
    ramBytes,
    settings,
    rounds: [],
    totals: {
      dataPages: 0,
      zeroPages: 0,
      balloonedPages: 0,
      rawBytes: 0,
      wireBytes: 0,
      stateBytes: 0,
      compressionRatio: 1,
    },
    rttMs: 0,
    totalMs: 0,
    downtimeMs: null,
    clockAdvanceMs: null,
    switchover: null,
    verify: null,
    outcome: "abandoned",
    reason: null,
  };
}

/** A round with nothing counted yet: the engines fill it in as pages go. */
export function newRound(
  round: number,
  startMs: number,
  fields: Partial<RoundTrace> = {},
): RoundTrace {
  return {
    round,
    startMs,
    durationMs: 0,
    candidatePages: 0,
    dataPages: 0,
    zeroPages: 0,
    balloonedPages: 0,
    unchangedPages: 0,
    rawBytes: 0,
    wireBytes: 0,
    dirtyPagesPerSecond: 0,
    bandwidthBytesPerSecond: 0,
    throttle: 1,
    harvestMs: 0,
    estimatedDowntimeMs: 0,
    final: false,
    ...fields,
  };
}

/** Bytes per second from a byte count and a duration in ms (0 when there is no duration). */
export function rate(bytes: number, ms: number): number {
  return ms > 0 ? (bytes * 1000) / ms : 0;
}
