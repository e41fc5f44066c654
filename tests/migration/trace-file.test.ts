// Saved traces: a real one reads back whole; a damaged or foreign file is
// refused with a reason, so a replay never runs on garbage.
import { describe, expect, it } from "vitest";
import { Machine } from "../../src/machine/machine.ts";
import { receiveMigration } from "../../src/migration/destination.ts";
import { migrateOut } from "../../src/migration/source.ts";
import { parseTraceFile, TraceFileError, traceFileText } from "../../src/migration/trace-file.ts";
import type { MigrationTrace } from "../../src/migration/trace.ts";
import { memoryTransportPair } from "../../src/migration/transports/memory.ts";
import { PageBitmap } from "../../src/platform/page-bitmap.ts";
import { runningDirtier, sharedCodec, sleep } from "./helpers.ts";

async function realTrace(): Promise<MigrationTrace> {
  const codec = await sharedCodec();
  const source = await runningDirtier();
  await sleep(30);
  const [a, b] = memoryTransportPair();
  const incoming = receiveMigration(b, { codec, createMachine: (c) => Machine.fromConfig(c) });
  const trace = await migrateOut(source, a, { codec });
  await (await incoming).machine?.pause();
  await source.pause();
  return trace;
}

describe("trace files", () => {
  it("read back what was saved, page maps included", async () => {
    const trace = await realTrace();
    const read = parseTraceFile(traceFileText(trace));
    expect(read).toEqual(trace);
    const pages = trace.ramBytes / 4096;
    const round0 = PageBitmap.fromBase64(pages, read.rounds[0]!.sentMap!);
    expect(round0.count).toBe(trace.rounds[0]!.dataPages);
  });

  it("refuse what a replay could not show, saying why", async () => {
    const trace = await realTrace();
    const broken = (change: (t: Record<string, unknown>) => void) => {
      const copy = JSON.parse(JSON.stringify(trace)) as Record<string, unknown>;
      change(copy);
      return JSON.stringify(copy);
    };
    const rounds = (t: Record<string, unknown>) => t.rounds as Array<Record<string, unknown>>;
    const cases: Array<[string, RegExp]> = [
      ["not json {", /not JSON/],
      ["42", /holds no trace/],
      [broken((t) => (t.version = 7)), /trace version 7/],
      [broken((t) => (t.ramBytes = 12345)), /RAM size/],
      [broken((t) => (t.rounds = [])), /1 to 1000 rounds/],
      [broken((t) => (rounds(t)[0]!.wireBytes = "lots")), /round 0: wireBytes/],
      [broken((t) => (rounds(t)[0]!.durationMs = -1)), /round 0: durationMs/],
      [broken((t) => (rounds(t)[0]!.sentMap = "AAAA")), /round 0's sent pages/],
      [broken((t) => (t.totals = {})), /totals/],
      [broken((t) => (t.outcome = "maybe")), /outcome/],
    ];
    for (const [text, reason] of cases) {
      expect(() => parseTraceFile(text), text.slice(0, 40)).toThrow(TraceFileError);
      expect(() => parseTraceFile(text), text.slice(0, 40)).toThrow(reason);
    }
  });
});

describe("page maps", () => {
  it("round-trip through base64 and refuse another size", () => {
    const set = new PageBitmap(1000);
    for (const page of [0, 31, 32, 500, 999]) set.add(page);
    const text = set.toBase64();
    const back = PageBitmap.fromBase64(1000, text);
    expect(back.ranges()).toEqual(set.ranges());
    expect(back.count).toBe(5);
    expect(() => PageBitmap.fromBase64(2000, text)).toThrow(RangeError);
  });
});
