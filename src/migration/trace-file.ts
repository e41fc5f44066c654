// A migration trace saved as a file and read back: everything a replay uses
// is checked, so a damaged or foreign file is refused with a reason instead
// of breaking the page.
import { TRACE_VERSION, type MigrationTrace, type RoundTrace } from "./trace.ts";

export class TraceFileError extends Error {}

const ROUND_NUMBERS = [
  "round",
  "startMs",
  "durationMs",
  "candidatePages",
  "dataPages",
  "zeroPages",
  "balloonedPages",
  "unchangedPages",
  "rawBytes",
  "wireBytes",
  "dirtyPagesPerSecond",
  "bandwidthBytesPerSecond",
  "throttle",
  "estimatedDowntimeMs",
] as const satisfies ReadonlyArray<keyof RoundTrace>;

const MAX_ROUNDS = 1000;

function finite(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value) && value >= 0;
}

/** Parses a trace file's text; throws TraceFileError saying what is wrong. */
export function parseTraceFile(text: string): MigrationTrace {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new TraceFileError("the file is not JSON");
  }
  const trace = value as Partial<MigrationTrace> | null;
  if (typeof trace !== "object" || trace === null)
    throw new TraceFileError("the file holds no trace");
  if (trace.version !== TRACE_VERSION) {
    throw new TraceFileError(`trace version ${String(trace.version)} is not ${TRACE_VERSION}`);
  }
  if (!finite(trace.ramBytes) || trace.ramBytes % 4096 !== 0 || trace.ramBytes > 2 ** 31) {
    throw new TraceFileError("the trace's RAM size is not a whole number of pages up to 2 GiB");
  }
  if (
    !Array.isArray(trace.rounds) ||
    trace.rounds.length === 0 ||
    trace.rounds.length > MAX_ROUNDS
  ) {
    throw new TraceFileError(`a trace has 1 to ${MAX_ROUNDS} rounds`);
  }
  const mapLength = Math.ceil(trace.ramBytes / 4096 / 32) * 4;
  const checkMap = (map: unknown, what: string) => {
    if (map === undefined) return;
    if (typeof map !== "string" || Math.floor((map.length * 3) / 4) < mapLength - 2) {
      throw new TraceFileError(`${what} is not a page map of this RAM size`);
    }
  };
  trace.rounds.forEach((round, i) => {
    if (typeof round !== "object" || round === null)
      throw new TraceFileError(`round ${i} is not an object`);
    for (const key of ROUND_NUMBERS) {
      if (!finite(round[key])) throw new TraceFileError(`round ${i}: ${key} is not a number`);
    }
    if (typeof round.final !== "boolean")
      throw new TraceFileError(`round ${i}: final is not true or false`);
    checkMap(round.sentMap, `round ${i}'s sent pages`);
  });
  checkMap(trace.balloonedMap, "the balloon's pages");
  const totals = trace.totals;
  if (
    typeof totals !== "object" ||
    totals === null ||
    ![
      "dataPages",
      "zeroPages",
      "balloonedPages",
      "wireBytes",
      "stateBytes",
      "compressionRatio",
    ].every((key) => finite((totals as unknown as Record<string, unknown>)[key]))
  ) {
    throw new TraceFileError("the trace's totals are incomplete");
  }
  if (!finite(trace.totalMs)) throw new TraceFileError("the trace has no total time");
  if (trace.downtimeMs !== null && !finite(trace.downtimeMs)) {
    throw new TraceFileError("the trace's downtime is not a number");
  }
  if (!["completed", "abandoned", "unknown"].includes(String(trace.outcome))) {
    throw new TraceFileError("the trace has no outcome");
  }
  return trace as MigrationTrace;
}

/** A trace as a file's text (pretty, so people can read it). */
export function traceFileText(trace: MigrationTrace): string {
  return JSON.stringify(trace, null, 1);
}
