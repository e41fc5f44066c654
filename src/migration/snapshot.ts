// Snapshot files: a paused machine's state tree and its RAM, in one buffer.
//
//   0   "HIVE86SS"              magic
//   8   u32 format version
//   12  u32 length of the JSON block
//   16  u32 number of RAM pages stored
//   20  u32 CRC-32 of everything after the 24-byte header
//   24  JSON block (UTF-8): the machine state and the list of stored pages
//   ..  the stored pages, 4 KiB each, in the list's order
//
// Pages that are all zero and pages the balloon holds are not stored (the
// balloon's are zero too, and need no scan). Loading checks everything before
// it changes the machine: a corrupted or truncated file is refused with a
// message and the machine is left as it was.
import type { Machine } from "../machine/machine.ts";
import { parseMachineConfig, type MachineConfig } from "../machine/machine-config.ts";
import type { MachineState } from "../machine/machine-state.ts";
import { Crc32 } from "./crc32.ts";
import { describeValue } from "../platform/state-check.ts";

export const SNAPSHOT_MAGIC = "HIVE86SS";
/** 2: the machine state holds its configuration and components by id. */
export const SNAPSHOT_VERSION = 2;
const HEADER_BYTES = 24;
const PAGE = 4096;

export class SnapshotError extends Error {}

interface SnapshotInfo {
  machine: MachineState;
  ramBytes: number;
  /** Stored pages as sorted [start, end) ranges. */
  pages: Array<[number, number]>;
  skipped: { zero: number; ballooned: number };
}

export interface SnapshotSummary {
  bytes: number;
  storedPages: number;
  zeroPages: number;
  balloonedPages: number;
}

function isZero(page: Uint8Array): boolean {
  const words = new Uint32Array(page.buffer, page.byteOffset, PAGE / 4);
  for (let i = 0; i < words.length; i++) if (words[i] !== 0) return false;
  return true;
}

/** Serializes a paused machine; returns the file's bytes and what went in. */
export function saveSnapshot(machine: Machine): { bytes: Uint8Array; summary: SnapshotSummary } {
  const state = machine.saveState(); // refuses a running machine
  const memory = machine.core.memory;
  const ramPages = memory.ramBytes / PAGE;
  const ballooned = machine.balloon?.ballooned;
  const ram = memory.read(0, memory.ramBytes);
  const ranges: Array<[number, number]> = [];
  const stored: number[] = [];
  let zero = 0;
  let balloonedCount = 0;
  for (let page = 0; page < ramPages; page++) {
    if (ballooned?.has(page)) {
      balloonedCount++;
      continue;
    }
    if (isZero(ram.subarray(page * PAGE, (page + 1) * PAGE))) {
      zero++;
      continue;
    }
    stored.push(page);
    const last = ranges[ranges.length - 1];
    if (last && last[1] === page) last[1] = page + 1;
    else ranges.push([page, page + 1]);
  }
  const info: SnapshotInfo = {
    machine: state,
    ramBytes: memory.ramBytes,
    pages: ranges,
    skipped: { zero, ballooned: balloonedCount },
  };
  const json = new TextEncoder().encode(JSON.stringify(info));
  const bytes = new Uint8Array(HEADER_BYTES + json.length + stored.length * PAGE);
  bytes.set(new TextEncoder().encode(SNAPSHOT_MAGIC), 0);
  const view = new DataView(bytes.buffer);
  view.setUint32(8, SNAPSHOT_VERSION, true);
  view.setUint32(12, json.length, true);
  view.setUint32(16, stored.length, true);
  bytes.set(json, HEADER_BYTES);
  let at = HEADER_BYTES + json.length;
  for (const page of stored) {
    bytes.set(ram.subarray(page * PAGE, (page + 1) * PAGE), at);
    at += PAGE;
  }
  view.setUint32(20, new Crc32().update(bytes.subarray(HEADER_BYTES)).digest(), true);
  return {
    bytes,
    summary: {
      bytes: bytes.length,
      storedPages: stored.length,
      zeroPages: zero,
      balloonedPages: balloonedCount,
    },
  };
}

/** Snapshots a machine that may be running: pauses it for the copy, then lets it go on. */
export async function captureSnapshot(
  machine: Machine,
): Promise<{ bytes: Uint8Array; summary: SnapshotSummary }> {
  const wasRunning = machine.runState === "running";
  await machine.pause();
  try {
    return saveSnapshot(machine);
  } finally {
    if (wasRunning) machine.start();
  }
}

function parseInfo(json: Uint8Array, ramBytes: number, storedPages: number): SnapshotInfo {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(json));
  } catch (error) {
    throw new SnapshotError(`the snapshot's JSON block does not parse: ${String(error)}`);
  }
  if (typeof value !== "object" || value === null) {
    throw new SnapshotError("the snapshot's JSON block is not an object");
  }
  const info = value as Partial<SnapshotInfo>;
  if (typeof info.ramBytes !== "number") {
    throw new SnapshotError(
      `the snapshot does not say how much RAM its machine has (ramBytes is ${describeValue(info.ramBytes)})`,
    );
  }
  if (info.ramBytes !== ramBytes) {
    throw new SnapshotError(
      `the snapshot is of a machine with ${info.ramBytes} bytes of RAM; this one has ${ramBytes}`,
    );
  }
  if (!Array.isArray(info.pages)) throw new SnapshotError("the snapshot lists no pages");
  const ramPages = ramBytes / PAGE;
  let previousEnd = 0;
  let count = 0;
  for (const range of info.pages as unknown[]) {
    const [start, end] = Array.isArray(range) ? (range as unknown[]) : [];
    if (
      !Number.isInteger(start) ||
      !Number.isInteger(end) ||
      (start as number) < previousEnd ||
      (end as number) <= (start as number) ||
      (end as number) > ramPages
    ) {
      throw new SnapshotError(`the snapshot's page list has a bad range: ${JSON.stringify(range)}`);
    }
    count += (end as number) - (start as number);
    previousEnd = end as number;
  }
  if (count !== storedPages) {
    throw new SnapshotError(
      `the snapshot's page list names ${count} pages but its header says ${storedPages}`,
    );
  }
  return info as SnapshotInfo;
}

/** The header and the JSON block of a snapshot, checked (CRC included), not yet applied. */
function readEnvelope(bytes: Uint8Array): {
  json: Uint8Array;
  jsonBytes: number;
  storedPages: number;
} {
  if (bytes.length < HEADER_BYTES) {
    throw new SnapshotError(
      `a snapshot is at least ${HEADER_BYTES} bytes; this is ${bytes.length}`,
    );
  }
  const magic = new TextDecoder().decode(bytes.subarray(0, 8));
  if (magic !== SNAPSHOT_MAGIC) throw new SnapshotError("not a hive86 snapshot (bad magic)");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== SNAPSHOT_VERSION) {
    throw new SnapshotError(
      `snapshot format version ${version} is not supported (want ${SNAPSHOT_VERSION})` +
        (version < SNAPSHOT_VERSION ? ": it was saved by an older hive86" : ""),
    );
  }
  const jsonBytes = view.getUint32(12, true);
  const storedPages = view.getUint32(16, true);
  const expected = HEADER_BYTES + jsonBytes + storedPages * PAGE;
  if (bytes.length !== expected) {
    throw new SnapshotError(
      `the snapshot is ${bytes.length} bytes but its header describes ${expected}: truncated or padded`,
    );
  }
  const crc = new Crc32().update(bytes.subarray(HEADER_BYTES)).digest();
  if (crc !== view.getUint32(20, true)) {
    throw new SnapshotError("the snapshot is corrupted: its CRC-32 does not match");
  }
  return { json: bytes.subarray(HEADER_BYTES, HEADER_BYTES + jsonBytes), jsonBytes, storedPages };
}

/**
 * The configuration of the machine a snapshot was taken of: build the
 * machine to load it into from this (Machine.fromConfig).
 */
export function snapshotConfig(bytes: Uint8Array): MachineConfig {
  const { json } = readEnvelope(bytes);
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(json));
  } catch (error) {
    throw new SnapshotError(`the snapshot's JSON block does not parse: ${String(error)}`);
  }
  const machine = (value as { machine?: { config?: unknown } } | null)?.machine;
  try {
    return parseMachineConfig(machine?.config);
  } catch (error) {
    throw new SnapshotError(
      `the snapshot's machine configuration is refused: ${(error as Error).message}`,
    );
  }
}

/**
 * Loads a snapshot into a paused machine of the same configuration. Everything
 * is checked first; a refused file changes nothing.
 */
export function loadSnapshot(machine: Machine, bytes: Uint8Array): SnapshotSummary {
  const { json, jsonBytes, storedPages } = readEnvelope(bytes);
  const memory = machine.core.memory;
  const info = parseInfo(json, memory.ramBytes, storedPages);
  // Atomic: a state any component refuses leaves the machine as it was.
  try {
    machine.restoreState(info.machine);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new SnapshotError(`the snapshot's machine state is refused: ${reason}`);
  }
  memory.fill(0, memory.ramBytes, 0);
  let at = HEADER_BYTES + jsonBytes;
  for (const [start, end] of info.pages) {
    memory.write(start * PAGE, bytes.subarray(at, at + (end - start) * PAGE));
    at += (end - start) * PAGE;
  }
  return {
    bytes: bytes.length,
    storedPages,
    zeroPages: info.skipped?.zero ?? 0,
    balloonedPages: info.skipped?.ballooned ?? 0,
  };
}
