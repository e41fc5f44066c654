// One line that tells a person what a migration did, from its trace: for the
// monitor, the runner's log and the page.
import type { Done } from "./protocol.ts";
import type { MigrationTrace } from "./trace.ts";

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(bytes < 1e7 ? 2 : 1)} MB`;
}

function count(value: number): string {
  return value.toLocaleString("en-US");
}

/** "downtime 12 ms, 3 rounds, 3.03 MB on the wire (2.4:1), ..." */
export function describeTrace(trace: MigrationTrace, summary: Done | null = null): string {
  const downtime = summary?.downtimeMs ?? trace.downtimeMs;
  const totalMs = summary?.totalMs ?? trace.totalMs;
  const t = summary ?? trace.totals;
  const wire = summary?.wireBytes ?? trace.totals.wireBytes + trace.totals.stateBytes;
  const parts = [
    downtime === null ? "no downtime measured" : `downtime ${downtime.toFixed(1)} ms`,
    `${summary?.rounds ?? trace.rounds.length} rounds`,
    `${megabytes(wire)} on the wire (${t.compressionRatio.toFixed(2)}:1 compression)`,
    `${count(t.dataPages)} pages sent, ${count(t.zeroPages)} zero and ${count(t.balloonedPages)} ballooned left out`,
    `${totalMs.toFixed(0)} ms in all`,
  ];
  if (trace.verify)
    parts.push(trace.verify.match ? "RAM and state verified equal" : "VERIFY FAILED");
  return parts.join(", ");
}
