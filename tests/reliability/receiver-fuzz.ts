// Fuzzing the migration receiver. A real migration of a small guest is
// recorded once (every message the source sent); each case then replays it
// into a fresh destination with one thing broken: a message truncated,
// lengthened or overwritten, a field set to a hostile value and the checksum
// made right again (so the checks behind the checksum are reached), a
// message duplicated, dropped or moved. Each case must end in a refusal with
// a reason a person can read, or, when what was broken changed nothing the
// protocol forbids, in a guest; never an exception, never a hang, never a
// write beyond guest RAM. Used by tests/reliability/receiver-fuzz.test.ts and
// `npm run test:fuzz` (tools/fuzz.ts).
import type { Machine } from "../../src/machine/machine.ts";
import { receiveMigration, type IncomingResult } from "../../src/migration/destination.ts";
import type { PageCodec } from "../../src/migration/page-codec.ts";
import { MessageType, messageTypeName } from "../../src/migration/protocol.ts";
import { migrateOut } from "../../src/migration/source.ts";
import { memoryTransportPair } from "../../src/migration/transports/memory.ts";
import { HOSTILE_VALUES, pick, randomFor, type Random } from "./hostile.ts";
import { RAM, ramOf, runningDirtier, sharedCodec, sleep } from "../migration/helpers.ts";

const PAGES_HEADER = 20;
const RUN_BYTES = 8;
const STATE_HEADER = 16;
/** A case that neither ends nor fails within this is a hang. */
const CASE_LIMIT_MS = 5000;

export interface Recording {
  /** What the source sent, in order. */
  messages: Uint8Array[];
  /** The guest's RAM when it was handed over. */
  ram: Buffer;
}

/** Records one real migration of the dirtier guest (RAM equal at the switchover). */
export async function recordMigration(): Promise<Recording> {
  const codec = await sharedCodec();
  const source = await runningDirtier();
  await sleep(50);
  const [a, b] = memoryTransportPair();
  const messages: Uint8Array[] = [];
  const send = a.send.bind(a);
  a.send = (message: Uint8Array) => {
    messages.push(message.slice());
    send(message);
  };
  const incoming = receiveMigration(b, { codec, createMachine: heldMachine(() => {}) });
  const trace = await migrateOut(source, a, { codec, verify: true });
  const arrived = await incoming;
  if (trace.outcome !== "completed" || !arrived.machine) {
    throw new Error(`the recorded migration failed: ${trace.reason}`);
  }
  const ram = ramOf(source);
  await arrived.machine.pause();
  return { messages, ram };
}

/** A machine for the offered config that never starts running, so its RAM can be compared. */
function heldMachine(made: (machine: Machine) => void) {
  return async (config: Parameters<typeof Machine.fromConfig>[0]) => {
    const { Machine } = await import("../../src/machine/machine.ts");
    const machine = await Machine.fromConfig(config);
    machine.start = () => undefined;
    made(machine);
    return machine;
  };
}

type Mutation = {
  name: string;
  /** The broken stream, or null when this mutation has nothing to break in this recording. */
  apply(messages: Uint8Array[], random: Random, codec: PageCodec): Uint8Array[] | null;
  /** A reason the receiver must give (the check that must catch it), if any. */
  mustRefuse?: RegExp;
};

const indexesOf = (messages: Uint8Array[], type: number) =>
  messages.flatMap((message, i) => (message[0] === type ? [i] : []));

/**
 * Messages before the last (DONE): the guest already runs when DONE comes, so
 * whatever replaces it cannot be refused, only ignored.
 */
const beforeDone = (messages: Uint8Array[]) => messages.length - 1;

function replaced(messages: Uint8Array[], at: number, message: Uint8Array): Uint8Array[] {
  const copy = messages.slice();
  copy[at] = message;
  return copy;
}

/** Sets the checksum of a PAGES or STATE message right again after an edit. */
function rechecksum(message: Uint8Array, codec: PageCodec): Uint8Array {
  const header = message[0] === MessageType.PAGES ? PAGES_HEADER : STATE_HEADER;
  const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
  if (message.length >= header)
    view.setUint32(header - 4, codec.checksum32(message.subarray(header)), true);
  return message;
}

/** Edits one message of `type` (a copy) with `edit`, then fixes its checksum. */
function editBinary(
  type: number,
  edit: (message: Uint8Array, view: DataView, random: Random) => Uint8Array | void,
): Mutation["apply"] {
  return (messages, random, codec) => {
    const at = indexesOf(messages, type);
    if (at.length === 0) return null;
    const index = pick(at, random);
    const copy = messages[index]!.slice();
    const edited = edit(copy, new DataView(copy.buffer), random) ?? copy;
    return replaced(messages, index, rechecksum(edited, codec));
  };
}

/** Replaces the JSON body of one control message of `type`. */
function editControl(
  type: number,
  edit: (body: Record<string, unknown>, random: Random) => unknown,
): Mutation["apply"] {
  return (messages, random) => {
    const at = indexesOf(messages, type);
    if (at.length === 0) return null;
    const index = pick(at, random);
    const body = JSON.parse(new TextDecoder().decode(messages[index]!.subarray(1))) as Record<
      string,
      unknown
    >;
    const json = new TextEncoder().encode(JSON.stringify(edit(body, random)));
    const message = new Uint8Array(1 + json.length);
    message[0] = type;
    message.set(json, 1);
    return replaced(messages, index, message);
  };
}

const RAM_PAGES = RAM / 4096;

export const MUTATIONS: Mutation[] = [
  // ---- any message, bytes broken on the way ----
  {
    name: "a message cut short",
    apply: (messages, random) => {
      const index = Math.floor(random() * messages.length);
      const length = Math.floor(random() * messages[index]!.length);
      return replaced(messages, index, messages[index]!.slice(0, length));
    },
  },
  {
    name: "bytes overwritten in a message",
    apply: (messages, random) => {
      const index = Math.floor(random() * messages.length);
      const copy = messages[index]!.slice();
      const changes = 1 + Math.floor(random() * 8);
      for (let i = 0; i < changes; i++)
        copy[Math.floor(random() * copy.length)] = Math.floor(random() * 256);
      return replaced(messages, index, copy);
    },
  },
  {
    name: "garbage after a message",
    apply: (messages, random) => {
      const index = Math.floor(random() * messages.length);
      const extra = new Uint8Array(1 + Math.floor(random() * 64)).map(() =>
        Math.floor(random() * 256),
      );
      const copy = new Uint8Array(messages[index]!.length + extra.length);
      copy.set(messages[index]!);
      copy.set(extra, messages[index]!.length);
      return replaced(messages, index, copy);
    },
  },
  {
    name: "an unknown message type",
    apply: (messages, random) => {
      const index = Math.floor(random() * beforeDone(messages));
      const copy = messages[index]!.slice();
      copy[0] = pick([0, 14, 15, 99, 255], random);
      return replaced(messages, index, copy);
    },
    mustRefuse: /unknown type|not HELLO/,
  },
  {
    name: "an empty message",
    apply: (messages, random) =>
      replaced(messages, Math.floor(random() * beforeDone(messages)), new Uint8Array(0)),
    mustRefuse: /empty message/,
  },
  // ---- the stream: duplicated, dropped, reordered ----
  {
    name: "a message sent twice",
    apply: (messages, random) => {
      const index = Math.floor(random() * messages.length);
      return [...messages.slice(0, index + 1), messages[index]!, ...messages.slice(index + 1)];
    },
  },
  {
    name: "a message dropped",
    apply: (messages, random) => {
      const index = Math.floor(random() * (messages.length - 1)); // not DONE: that only ends the talk
      return [...messages.slice(0, index), ...messages.slice(index + 1)];
    },
  },
  {
    name: "two messages swapped",
    apply: (messages, random) => {
      const index = Math.floor(random() * (messages.length - 1));
      if (messages[index]![0] === messages[index + 1]![0]) return null; // same type: maybe harmless
      const copy = messages.slice();
      [copy[index], copy[index + 1]] = [copy[index + 1]!, copy[index]!];
      return copy;
    },
  },
  // ---- HELLO ----
  {
    name: "HELLO of another protocol version",
    apply: editControl(MessageType.HELLO, (body, random) => ({
      ...body,
      version: pick([0, 2, 99, 2 ** 31], random),
    })),
    mustRefuse: /version/,
  },
  {
    name: "HELLO offering RAM meant to exhaust memory",
    apply: editControl(MessageType.HELLO, (body, random) => ({
      ...body,
      config: {
        ...(body.config as object),
        ramBytes: pick([2 ** 40, 2 ** 33, 2 ** 53, 4096 * 3 + 1, -4096], random),
      },
    })),
    mustRefuse: /RAM|ram/,
  },
  {
    name: "HELLO with a hostile field",
    apply: editControl(MessageType.HELLO, (body, random) => {
      const key = pick(
        ["protocol", "version", "codecs", "verify", "config", "components", "cpu", "journal"],
        random,
      );
      return { ...body, [key]: pick(HOSTILE_VALUES, random) };
    }),
  },
  {
    name: "HELLO with a hostile config field",
    apply: editControl(MessageType.HELLO, (body, random) => {
      const config = { ...(body.config as Record<string, unknown>) };
      const key = pick(Object.keys(config), random);
      config[key] = pick(HOSTILE_VALUES, random);
      return { ...body, config };
    }),
  },
  // ---- PAGES, checksum made right so the checks behind it are reached ----
  {
    name: "PAGES naming pages beyond RAM",
    apply: editBinary(MessageType.PAGES, (message, view, random) => {
      view.setUint32(
        PAGES_HEADER,
        pick([RAM_PAGES, RAM_PAGES + 1, 0xfffff, 0xffffffff], random),
        true,
      );
    }),
    mustRefuse: /beyond RAM/,
  },
  {
    name: "PAGES whose run crosses the end of RAM",
    apply: editBinary(MessageType.PAGES, (message, view, random) => {
      const count = view.getUint16(PAGES_HEADER + 4, true);
      view.setUint32(PAGES_HEADER, RAM_PAGES - Math.max(1, Math.floor(random() * count)), true);
      if (count < 2) view.setUint16(PAGES_HEADER + 4, 2, true);
    }),
  },
  {
    name: "PAGES with a hostile run count",
    apply: editBinary(MessageType.PAGES, (message, view, random) => {
      view.setUint32(8, pick([0, 1025, 0xffff, 0xffffffff], random), true);
    }),
    mustRefuse: /runs/,
  },
  {
    name: "PAGES with an empty or unknown run",
    apply: editBinary(MessageType.PAGES, (message, view, random) => {
      const runs = view.getUint32(8, true);
      const at = PAGES_HEADER + Math.floor(random() * runs) * RUN_BYTES;
      if (random() < 0.5) view.setUint16(at + 4, 0, true);
      else message[at + 6] = pick([2, 7, 255], random);
    }),
    mustRefuse: /empty|unknown kind/,
  },
  {
    name: "PAGES whose lengths disagree",
    apply: editBinary(MessageType.PAGES, (message, view, random) => {
      const raw = view.getUint32(12, true);
      view.setUint32(12, pick([0, raw + 4096, raw - 1, 0xffffffff, 61 * 4096], random) >>> 0, true);
    }),
  },
  {
    name: "PAGES with an unknown codec",
    apply: editBinary(MessageType.PAGES, (message, _view, random) => {
      message[1] = pick([2, 3, 128, 255], random);
    }),
    mustRefuse: /unknown codec/,
  },
  {
    name: "PAGES of another round",
    apply: editBinary(MessageType.PAGES, (message, view, random) => {
      view.setUint32(4, view.getUint32(4, true) + pick([1, 7, 0xffff], random), true);
    }),
  },
  {
    name: "PAGES whose compressed data is garbage",
    apply: editBinary(MessageType.PAGES, (message, view, random) => {
      const dataAt = PAGES_HEADER + view.getUint32(8, true) * RUN_BYTES;
      if (dataAt >= message.length) return;
      const changes = 1 + Math.floor(random() * 16);
      for (let i = 0; i < changes; i++) {
        message[dataAt + Math.floor(random() * (message.length - dataAt))] = Math.floor(
          random() * 256,
        );
      }
      if (random() < 0.3)
        return message.slice(0, dataAt + Math.floor(random() * (message.length - dataAt)));
    }),
  },
  // ---- STATE ----
  {
    name: "STATE with hostile part numbers",
    apply: editBinary(MessageType.STATE, (message, view, random) => {
      if (random() < 0.5) view.setUint16(2, pick([1, 80, 0xffff], random), true);
      else view.setUint16(4, pick([0, 81, 0xffff], random), true);
    }),
  },
  {
    name: "STATE claiming a size meant to exhaust memory",
    apply: editBinary(MessageType.STATE, (message, view, random) => {
      view.setUint32(8, pick([0, 200 * 1024 + 1, 2 ** 31, 0xffffffff], random) >>> 0, true);
    }),
    mustRefuse: /STATE chunk of|raw bytes/,
  },
  {
    name: "STATE whose contents are garbage",
    apply: (messages, random, codec) => {
      const at = indexesOf(messages, MessageType.STATE);
      if (at.length !== 1) return null;
      const json = pick(
        [
          "",
          "{",
          "[]",
          "null",
          '{"version":2}',
          '{"version":2,"config":{},"components":{}}',
          "\u0000\u00ff",
          '"x"',
        ],
        random,
      );
      const raw = new TextEncoder().encode(json);
      const message = new Uint8Array(STATE_HEADER + raw.length);
      const view = new DataView(message.buffer);
      message[0] = MessageType.STATE;
      message[1] = 0; // plain bytes
      view.setUint16(2, 0, true);
      view.setUint16(4, 1, true);
      view.setUint32(8, raw.length, true);
      message.set(raw, STATE_HEADER);
      return replaced(messages, at[0]!, rechecksum(message, codec));
    },
    mustRefuse: /state/i,
  },
  {
    name: "a state component with hostile values",
    apply: (messages, random, codec) => {
      const at = indexesOf(messages, MessageType.STATE);
      if (at.length !== 1) return null;
      const message = messages[at[0]!]!;
      const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
      const rawLength = view.getUint32(8, true);
      const raw =
        message[1] === 1
          ? codec.decompress(message.subarray(STATE_HEADER), rawLength)
          : message.subarray(STATE_HEADER);
      const state = JSON.parse(new TextDecoder().decode(raw)) as {
        components: Record<string, Record<string, unknown>>;
      };
      const component = state.components[pick(Object.keys(state.components), random)]!;
      const keys = Object.keys(component);
      if (keys.length === 0) return null;
      component[pick(keys, random)] = pick(HOSTILE_VALUES, random);
      const json = new TextEncoder().encode(JSON.stringify(state));
      if (json.length > 200 * 1024) return null;
      const edited = new Uint8Array(STATE_HEADER + json.length);
      const editedView = new DataView(edited.buffer);
      edited[0] = MessageType.STATE;
      edited[1] = 0;
      editedView.setUint16(2, 0, true);
      editedView.setUint16(4, 1, true);
      editedView.setUint32(8, json.length, true);
      edited.set(json, STATE_HEADER);
      return replaced(messages, at[0]!, rechecksum(edited, codec));
    },
  },
  // ---- the other control messages ----
  {
    name: "a control message with a hostile field",
    apply: (messages, random) => {
      const type = pick(
        [MessageType.PING, MessageType.ROUND_END, MessageType.GO, MessageType.DONE],
        random,
      );
      return editControl(type, (body, r) => {
        const key = pick(Object.keys(body), r);
        return { ...body, [key]: pick(HOSTILE_VALUES, r) };
      })(messages, random, null as unknown as PageCodec);
    },
  },
  {
    name: "the last round left open, or ended after the state",
    apply: (messages, random) => {
      const ends = indexesOf(messages, MessageType.ROUND_END);
      const state = indexesOf(messages, MessageType.STATE).at(-1);
      if (ends.length === 0 || state === undefined) return null;
      const copy = messages.slice();
      const [end] = copy.splice(ends.at(-1)!, 1);
      if (random() < 0.5) copy.splice(state, 0, end!); // after the (last) state part
      return copy;
    },
    mustRefuse: /STATE before round \d+ ended/,
  },
  {
    name: "GO before READY",
    apply: (messages) => {
      const go = indexesOf(messages, MessageType.GO)[0];
      const state = indexesOf(messages, MessageType.STATE)[0];
      if (go === undefined || state === undefined) return null;
      const copy = messages.slice();
      const [message] = copy.splice(go, 1);
      copy.splice(state, 0, message!);
      return copy;
    },
    mustRefuse: /GO before READY/,
  },
];

export type Verdict =
  | "refused" // abandoned with a reason
  | "accepted" // the guest arrived; what was broken was not forbidden
  | "crashed" // an exception escaped the receiver
  | "hung" // neither within CASE_LIMIT_MS
  | "unclear" // refused, but with a reason that is an internal error, not words
  | "missed"; // a check that must catch this mutation did not

export interface CaseResult {
  mutation: string;
  seed: number;
  /** The first message the mutation changed, and the stream's types, for a failure's report. */
  at: number;
  stream: string;
  verdict: Verdict;
  reason: string | null;
  /** For accepted cases: whether the guest's RAM equals the recorded one. */
  ramEqual: boolean | null;
}

/** Words a person cannot act on: an internal error leaking through. */
const INTERNAL =
  /TypeError|ReferenceError|SyntaxError|is not a function|Cannot read|undefined|\bNaN\b|\[object /;

export async function runCase(
  recording: Recording,
  mutation: Mutation,
  seed: number,
): Promise<CaseResult | null> {
  const codec = await sharedCodec();
  const random = randomFor(seed);
  const stream = mutation.apply(recording.messages, random, codec);
  if (!stream) return null;
  const [source, destination] = memoryTransportPair();
  let machine: Machine | null = null;
  const outcome: Promise<IncomingResult | Error> = receiveMigration(destination, {
    codec,
    timeoutMs: 1000,
    maxRamBytes: 64 * 1024 * 1024,
    createMachine: heldMachine((made) => (machine = made)),
  }).catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))));
  for (const message of stream) {
    if (source.closedReason !== null) break;
    source.send(message);
  }
  // The fuzzer has said everything: a destination still waiting learns it now.
  setTimeout(() => source.close("the fuzzer's stream ended"), 50);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const result = await Promise.race([
    outcome,
    new Promise<"hung">((resolve) => (timer = setTimeout(() => resolve("hung"), CASE_LIMIT_MS))),
  ]);
  clearTimeout(timer);
  const made = machine as Machine | null;
  const changed = stream.findIndex((message, i) => message !== recording.messages[i]);
  const about = {
    mutation: mutation.name,
    seed,
    at: changed < 0 ? stream.length : changed,
    stream: stream.map((message) => message[0] ?? "-").join(","),
  };
  try {
    if (result === "hung") return { ...about, verdict: "hung", reason: null, ramEqual: null };
    if (result instanceof Error) {
      return {
        ...about,
        verdict: "crashed",
        reason: result.stack ?? result.message,
        ramEqual: null,
      };
    }
    if (result.machine) {
      const ramEqual = ramOf(result.machine).equals(recording.ram);
      const verdict = mutation.mustRefuse ? "missed" : "accepted";
      return { ...about, verdict, reason: null, ramEqual };
    }
    const reason = result.trace.reason ?? "";
    if (!reason || INTERNAL.test(reason))
      return { ...about, verdict: "unclear", reason, ramEqual: null };
    if (
      mutation.mustRefuse &&
      !mutation.mustRefuse.test(reason) &&
      !/connection closed/.test(reason)
    ) {
      return { ...about, verdict: "missed", reason, ramEqual: null };
    }
    return { ...about, verdict: "refused", reason, ramEqual: null };
  } finally {
    await made?.pause();
  }
}

export interface FuzzSummary {
  cases: number;
  byVerdict: Record<Verdict, number>;
  /** Accepted cases whose guest differs from the recorded one (a changed page's content, say). */
  acceptedDifferent: number;
  byMutation: Map<string, Record<Verdict, number>>;
  failures: CaseResult[];
  /** What was taken harmlessly: the mutation and the type of the first message it changed. */
  taken: Map<string, number>;
  /** Distinct refusal reasons, with numbers stripped, and how often. */
  reasons: Map<string, number>;
}

export async function fuzzReceiver(
  recording: Recording,
  cases: number,
  firstSeed = 1,
  onProgress?: (done: number) => void,
): Promise<FuzzSummary> {
  const empty = (): Record<Verdict, number> => ({
    refused: 0,
    accepted: 0,
    crashed: 0,
    hung: 0,
    unclear: 0,
    missed: 0,
  });
  const summary: FuzzSummary = {
    cases: 0,
    byVerdict: empty(),
    acceptedDifferent: 0,
    byMutation: new Map(),
    failures: [],
    taken: new Map(),
    reasons: new Map(),
  };
  for (let seed = firstSeed; summary.cases < cases; seed++) {
    const mutation = MUTATIONS[seed % MUTATIONS.length]!;
    const result = await runCase(recording, mutation, seed);
    if (!result) continue;
    summary.cases++;
    summary.byVerdict[result.verdict]++;
    if (!summary.byMutation.has(mutation.name)) summary.byMutation.set(mutation.name, empty());
    summary.byMutation.get(mutation.name)![result.verdict]++;
    if (result.verdict === "accepted") {
      if (result.ramEqual === false) summary.acceptedDifferent++;
      const original = recording.messages[result.at];
      const key = `${mutation.name}: at ${original ? messageTypeName(original[0]!) : "the end"}`;
      summary.taken.set(key, (summary.taken.get(key) ?? 0) + 1);
    }
    if (result.verdict === "refused") {
      const key = result.reason!.replace(/\d+/g, "N").slice(0, 120);
      summary.reasons.set(key, (summary.reasons.get(key) ?? 0) + 1);
    }
    if (!["refused", "accepted"].includes(result.verdict)) summary.failures.push({ ...result });
    if (summary.cases % 500 === 0) onProgress?.(summary.cases);
  }
  return summary;
}
