// Fuzzing snapshot files: a real snapshot of a small running guest, then
// files cut short, bytes overwritten (the CRC catches those), and the JSON
// block edited with hostile values and the CRC made right again (so the
// checks behind the CRC are reached). Each must be refused with a
// SnapshotError or a device's own words, and leave the machine it was loaded
// into exactly as it was; or load, when the edit changed nothing that matters.
import { createHash } from "node:crypto";
import type { Machine } from "../../src/machine/machine.ts";
import { loadSnapshot, saveSnapshot } from "../../src/migration/snapshot.ts";
import { withJson } from "../helpers/snapshot-file.ts";
import { HOSTILE_VALUES, pick, randomFor, type Random } from "./hostile.ts";
import { runningDirtier, sleep } from "../migration/helpers.ts";

/** Somewhere inside a JSON value: an object's key or an array's index, chosen at random. */
function editSomewhere(value: unknown, random: Random, depth = 0): void {
  if (typeof value !== "object" || value === null) return;
  const keys = Array.isArray(value) ? value.map((_, i) => i) : Object.keys(value);
  if (keys.length === 0) return;
  const key = pick(keys as Array<string | number>, random);
  const child = (value as Record<string | number, unknown>)[key];
  if (depth < 4 && typeof child === "object" && child !== null && random() < 0.7) {
    editSomewhere(child, random, depth + 1);
  } else {
    (value as Record<string | number, unknown>)[key] = pick(HOSTILE_VALUES, random);
  }
}

const MUTATIONS: Array<{ name: string; apply(bytes: Uint8Array, random: Random): Uint8Array }> = [
  {
    name: "a file cut short",
    apply: (bytes, random) => bytes.slice(0, Math.floor(random() * bytes.length)),
  },
  {
    name: "bytes overwritten",
    apply: (bytes, random) => {
      const copy = bytes.slice();
      const changes = 1 + Math.floor(random() * 8);
      for (let i = 0; i < changes; i++)
        copy[Math.floor(random() * copy.length)] = Math.floor(random() * 256);
      return copy;
    },
  },
  {
    name: "a header field changed",
    apply: (bytes, random) => {
      const copy = bytes.slice();
      new DataView(copy.buffer).setUint32(
        pick([8, 12, 16], random),
        pick([0, 1, 0xffffffff, 2 ** 31, 24], random),
        true,
      );
      return copy;
    },
  },
  {
    name: "the JSON block edited, CRC fixed",
    apply: (bytes, random) => withJson(bytes, (info) => editSomewhere(info, random)),
  },
  {
    name: "the page list edited, CRC fixed",
    apply: (bytes, random) =>
      withJson(bytes, (info) => {
        const pages = info.pages as number[][];
        const range = pick(pages, random);
        range[Math.floor(random() * range.length)] = pick([-1, 1024, 1e9, 0.5, 2 ** 32], random);
      }),
  },
];

export interface SnapshotFuzzSummary {
  cases: number;
  refused: number;
  /** Loaded: the edit changed nothing the format forbids. */
  loaded: number;
  failures: string[];
}

function fingerprint(machine: Machine): string {
  const memory = machine.core.memory;
  return createHash("sha256")
    .update(memory.read(0, memory.ramBytes))
    .update(JSON.stringify(machine.saveState()))
    .digest("hex");
}

const INTERNAL = /TypeError|ReferenceError|is not a function|Cannot read|\[object /;

export async function fuzzSnapshots(cases: number, firstSeed = 1): Promise<SnapshotFuzzSummary> {
  const source = await runningDirtier();
  await sleep(50);
  await source.pause();
  const { bytes } = saveSnapshot(source);
  const target = await runningDirtier();
  await sleep(20);
  await target.pause();
  const before = fingerprint(target);
  const targetBytes = saveSnapshot(target).bytes;
  const summary: SnapshotFuzzSummary = { cases: 0, refused: 0, loaded: 0, failures: [] };
  for (let seed = firstSeed; summary.cases < cases; seed++) {
    const random = randomFor(seed);
    const mutation = MUTATIONS[seed % MUTATIONS.length]!;
    const damaged = mutation.apply(bytes, random);
    summary.cases++;
    try {
      loadSnapshot(target, damaged);
      summary.loaded++;
      // Loaded: put the target back as it was for the next case.
      loadSnapshot(target, targetBytes);
    } catch (error) {
      const message = (error as Error).message ?? "";
      if (!message || INTERNAL.test(message)) {
        summary.failures.push(`${mutation.name} (seed ${seed}): unclear refusal: ${message}`);
      } else if (fingerprint(target) !== before) {
        summary.failures.push(`${mutation.name} (seed ${seed}): refused, but the machine changed`);
      } else {
        summary.refused++;
      }
    }
  }
  return summary;
}
