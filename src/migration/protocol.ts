// The hive86 live-migration protocol, version 1: how a running guest moves
// from a source machine to a destination over any MessageTransport.
//
//   source                                         destination
//     |  HELLO (version, codecs, config, components, CPU)  |
//     |--------------------------------------------------->|  checks the config,
//     |              WELCOME (codec)  |  ABANDON (reason)  |  builds an empty machine
//     |<---------------------------------------------------|
//     |  PING / PONG (the round-trip time)                  |
//     |<-------------------------------------------------->|
//     |  PAGES ... PAGES  ROUND_END(0)   round 0: every    |
//     |--------------------------------------------------->|  page neither zero
//     |                          ROUND_ACK(0)               |  nor ballooned
//     |<---------------------------------------------------|
//     |  PAGES ... ROUND_END(n)  rounds 1..n: the pages     |
//     |--------------------------------------------------->|  dirtied meanwhile,
//     |                          ROUND_ACK(n)               |  until the rest fits
//     |<---------------------------------------------------|  the downtime limit
//   pause
//     |  PAGES ... ROUND_END(last)  STATE ... STATE         |
//     |--------------------------------------------------->|  restores the state
//     |           ROUND_ACK(last)  READY (hashes, verify)   |  (not running yet)
//     |<---------------------------------------------------|
//   released: this side never runs the guest again
//     |  GO (time paused so far, time READY was held)       |
//     |--------------------------------------------------->|  advances the clock
//     |                          RESUMED                    |  by the downtime, runs
//     |<---------------------------------------------------|
//     |  DONE (the downtime and totals, for its display)    |
//     |--------------------------------------------------->|
//
// Either side may send ABANDON (a reason a person can read) at any point
// before GO; the source then resumes its guest and the destination drops
// what it received. The destination never runs the guest before GO, and the
// source never sends GO unless it will never run the guest again: a guest
// is never lost and never runs twice. (If the wire breaks after GO left and
// before RESUMED came back, the source cannot know whether GO arrived: it
// keeps its paused copy and says so.)
//
// Every message is one transport message: a type byte, then a body. Control
// messages carry UTF-8 JSON. PAGES and STATE are binary (little-endian):
//
//   PAGES   u8 type, u8 codec, u16 0, u32 round, u32 runs, u32 raw length,
//           u32 check, runs x (u32 first page, u16 count, u8 kind, u8 0),
//           the data pages of the "data" runs, in order, through the codec
//   STATE   u8 type, u8 codec, u16 part, u16 parts, u16 0, u32 raw length,
//           u32 check, a chunk of the machine state's JSON, through the codec
//
// `check` is a checksum of everything after the header: a message damaged on
// the way is refused, never written into the guest.
//
// A run of kind "zero" carries no bytes: the pages are zero. Codec 0 is
// plain bytes; codec 1 is the LZ block codec of page-codec.ts.
import { MAX_MESSAGE_BYTES } from "./transport.ts";

export const PROTOCOL_NAME = "hive86-migration";
export const PROTOCOL_VERSION = 1;
export const PAGE_SIZE = 4096;

export const MessageType = {
  HELLO: 1,
  WELCOME: 2,
  PING: 3,
  PONG: 4,
  PAGES: 5,
  ROUND_END: 6,
  ROUND_ACK: 7,
  STATE: 8,
  READY: 9,
  GO: 10,
  RESUMED: 11,
  ABANDON: 12,
  DONE: 13,
} as const;
export type MessageTypeCode = (typeof MessageType)[keyof typeof MessageType];
const TYPE_NAMES = new Map<number, string>(Object.entries(MessageType).map(([k, v]) => [v, k]));

export function messageTypeName(type: number): string {
  return TYPE_NAMES.get(type) ?? `unknown type ${type}`;
}

export const Codec = { NONE: 0, LZ: 1 } as const;
export type CodecCode = (typeof Codec)[keyof typeof Codec];
export const CODEC_NAMES: Record<CodecCode, string> = { 0: "none", 1: "lz" };

export const RunKind = { ZERO: 0, DATA: 1 } as const;

const PAGES_HEADER = 20;
const RUN_BYTES = 8;
const STATE_HEADER = 16;
/** Raw page data per PAGES message: raw pages always fit one message, even when they do not compress. */
export const MAX_BATCH_DATA_PAGES = 60;
/** Runs per PAGES message (zero runs are free, but bounded so a batch stays small). */
export const MAX_BATCH_RUNS = 1024;
/** Raw state bytes per STATE message. */
export const STATE_CHUNK_BYTES = 200 * 1024;
/** A state larger than this is refused (a hostile peer cannot make us buffer more). */
export const MAX_STATE_PARTS = 80;

/** 32 bits that change when any byte of the input does (page-codec.ts's checksum32). */
export type Checksum = (bytes: Uint8Array) => number;

/** A message that breaks the protocol: refused with this reason. */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProtocolError";
  }
}

// ---- control messages ----

export interface Hello {
  protocol: typeof PROTOCOL_NAME;
  version: number;
  /** Codecs the source can send, best first. */
  codecs: string[];
  verify: boolean;
  config: unknown;
  components: string[];
  /** CPUID leaf 1: the CPU the guest booted on. */
  cpu: { signature: number; features: { edx: number; ecx: number } };
  /**
   * What the source's host knows of the guest's journey (earlier moves, its
   * clock against the host's), for the destination to show; opaque here.
   */
  journal?: Record<string, unknown>;
}
export interface Welcome {
  version: number;
  codec: string;
}
export interface Ping {
  id: number;
}
export interface RoundEnd {
  round: number;
  pages: number;
}
export interface RoundAck {
  round: number;
  pages: number;
}
export interface Ready {
  /** Hex digests of all RAM and of the restored state, in verify mode. */
  ramHash?: string;
  stateHash?: string;
}
export interface Go {
  /** Source-measured time from the pause until GO was sent. */
  pausedMs: number;
  /**
   * How long the source held READY before sending GO: the destination takes
   * it from its own READY-to-GO time to get the round trip, half of which
   * is GO's way (no two hosts' clocks are compared).
   */
  heldMs: number;
}
export interface Resumed {
  /** How far the destination moved the guest's clock. */
  clockAdvanceMs: number;
}
export interface Abandon {
  reason: string;
}
/** The source's figures, for the destination to show. */
export interface Done {
  downtimeMs: number;
  totalMs: number;
  rounds: number;
  wireBytes: number;
  dataPages: number;
  zeroPages: number;
  balloonedPages: number;
  compressionRatio: number;
}

export interface ControlBodies {
  [MessageType.HELLO]: Hello;
  [MessageType.WELCOME]: Welcome;
  [MessageType.PING]: Ping;
  [MessageType.PONG]: Ping;
  [MessageType.ROUND_END]: RoundEnd;
  [MessageType.ROUND_ACK]: RoundAck;
  [MessageType.READY]: Ready;
  [MessageType.GO]: Go;
  [MessageType.RESUMED]: Resumed;
  [MessageType.ABANDON]: Abandon;
  [MessageType.DONE]: Done;
}
export type ControlType = keyof ControlBodies;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

export function encodeControl<T extends ControlType>(type: T, body: ControlBodies[T]): Uint8Array {
  const json = encoder.encode(JSON.stringify(body));
  const message = new Uint8Array(1 + json.length);
  message[0] = type;
  message.set(json, 1);
  return message;
}

type Check = (value: unknown) => boolean;
const isCount: Check = (v) => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
const isTime: Check = (v) => typeof v === "number" && Number.isFinite(v) && v >= 0 && v < 1e9;
const isString =
  (max: number): Check =>
  (v) =>
    typeof v === "string" && v.length <= max;
const isOptionalHex: Check = (v) =>
  v === undefined || (typeof v === "string" && /^[0-9a-f]{1,64}$/.test(v));
const isStringList: Check = (v) =>
  Array.isArray(v) && v.length <= 64 && v.every((s) => typeof s === "string" && s.length <= 64);
const isU32: Check = (v) =>
  typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;

const SCHEMAS: { [T in ControlType]: Record<string, Check> } = {
  [MessageType.HELLO]: {
    protocol: (v) => v === PROTOCOL_NAME,
    version: isCount,
    codecs: isStringList,
    verify: (v) => typeof v === "boolean",
    config: (v) => typeof v === "object" && v !== null,
    components: isStringList,
    journal: (v) => v === undefined || (typeof v === "object" && v !== null && !Array.isArray(v)),
    cpu: (v) => {
      const cpu = v as Hello["cpu"] | null;
      return (
        typeof cpu === "object" &&
        cpu !== null &&
        isU32(cpu.signature) &&
        typeof cpu.features === "object" &&
        cpu.features !== null &&
        isU32(cpu.features.edx) &&
        isU32(cpu.features.ecx)
      );
    },
  },
  [MessageType.WELCOME]: { version: isCount, codec: isString(16) },
  [MessageType.PING]: { id: isCount },
  [MessageType.PONG]: { id: isCount },
  [MessageType.ROUND_END]: { round: isCount, pages: isCount },
  [MessageType.ROUND_ACK]: { round: isCount, pages: isCount },
  [MessageType.READY]: { ramHash: isOptionalHex, stateHash: isOptionalHex },
  [MessageType.GO]: { pausedMs: isTime, heldMs: isTime },
  [MessageType.RESUMED]: { clockAdvanceMs: isTime },
  [MessageType.ABANDON]: { reason: isString(2000) },
  [MessageType.DONE]: {
    downtimeMs: isTime,
    totalMs: isTime,
    rounds: isCount,
    wireBytes: isCount,
    dataPages: isCount,
    zeroPages: isCount,
    balloonedPages: isCount,
    compressionRatio: isTime,
  },
};

export type Decoded =
  | { [T in ControlType]: { type: T; body: ControlBodies[T] } }[ControlType]
  | { type: typeof MessageType.PAGES; batch: PageBatch }
  | { type: typeof MessageType.STATE; chunk: StateChunk };

/** Decodes any message; a malformed one throws ProtocolError saying what is wrong. */
export function decodeMessage(message: Uint8Array, checksum: Checksum): Decoded {
  if (message.length === 0) throw new ProtocolError("an empty message");
  const type = message[0]!;
  if (type === MessageType.PAGES) return { type, batch: decodePages(message, checksum) };
  if (type === MessageType.STATE) return { type, chunk: decodeStateChunk(message, checksum) };
  const schema = SCHEMAS[type as ControlType];
  if (!schema) throw new ProtocolError(`a message of ${messageTypeName(type)}`);
  let body: unknown;
  try {
    body = JSON.parse(decoder.decode(message.subarray(1)));
  } catch {
    throw new ProtocolError(`a ${messageTypeName(type)} message whose body is not JSON`);
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new ProtocolError(`a ${messageTypeName(type)} message whose body is not an object`);
  }
  for (const [key, check] of Object.entries(schema)) {
    if (!check((body as Record<string, unknown>)[key])) {
      throw new ProtocolError(`a ${messageTypeName(type)} message with a bad "${key}"`);
    }
  }
  return { type, body } as Decoded;
}

// ---- page batches ----

export interface PageRun {
  first: number;
  count: number;
  kind: (typeof RunKind)[keyof typeof RunKind];
}

export interface PageBatch {
  codec: number;
  round: number;
  runs: PageRun[];
  /** Bytes the data decodes to: the data runs' pages x 4096. */
  rawLength: number;
  /** The data runs' pages, encoded with `codec`. */
  data: Uint8Array;
}

export function encodePages(
  round: number,
  runs: readonly PageRun[],
  codec: CodecCode,
  rawLength: number,
  data: Uint8Array,
  checksum: Checksum,
): Uint8Array {
  const message = new Uint8Array(PAGES_HEADER + runs.length * RUN_BYTES + data.length);
  const view = new DataView(message.buffer);
  message[0] = MessageType.PAGES;
  message[1] = codec;
  view.setUint32(4, round, true);
  view.setUint32(8, runs.length, true);
  view.setUint32(12, rawLength, true);
  runs.forEach((run, i) => {
    const at = PAGES_HEADER + i * RUN_BYTES;
    view.setUint32(at, run.first, true);
    view.setUint16(at + 4, run.count, true);
    message[at + 6] = run.kind;
  });
  message.set(data, PAGES_HEADER + runs.length * RUN_BYTES);
  view.setUint32(16, checksum(message.subarray(PAGES_HEADER)), true);
  return message;
}

function verifyCheck(message: Uint8Array, header: number, checksum: Checksum, what: string): void {
  const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
  if (view.getUint32(header - 4, true) !== checksum(message.subarray(header)) >>> 0) {
    throw new ProtocolError(`a ${what} message damaged on the way (its checksum does not match)`);
  }
}

function decodePages(message: Uint8Array, checksum: Checksum): PageBatch {
  if (message.length < PAGES_HEADER)
    throw new ProtocolError("a PAGES message shorter than its header");
  verifyCheck(message, PAGES_HEADER, checksum, "PAGES");
  const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
  const codec = message[1]!;
  if (codec !== Codec.NONE && codec !== Codec.LZ)
    throw new ProtocolError(`PAGES with unknown codec ${codec}`);
  const round = view.getUint32(4, true);
  const runCount = view.getUint32(8, true);
  const rawLength = view.getUint32(12, true);
  if (runCount === 0 || runCount > MAX_BATCH_RUNS) {
    throw new ProtocolError(`PAGES with ${runCount} runs (1..${MAX_BATCH_RUNS} allowed)`);
  }
  const dataAt = PAGES_HEADER + runCount * RUN_BYTES;
  if (message.length < dataAt) throw new ProtocolError("a PAGES message cut short in its run list");
  const runs: PageRun[] = [];
  let dataPages = 0;
  for (let i = 0; i < runCount; i++) {
    const at = PAGES_HEADER + i * RUN_BYTES;
    const first = view.getUint32(at, true);
    const count = view.getUint16(at + 4, true);
    const kind = message[at + 6]!;
    if (count === 0) throw new ProtocolError(`PAGES run ${i} is empty`);
    if (kind !== RunKind.ZERO && kind !== RunKind.DATA) {
      throw new ProtocolError(`PAGES run ${i} has unknown kind ${kind}`);
    }
    if (kind === RunKind.DATA) dataPages += count;
    runs.push({ first, count, kind: kind as PageRun["kind"] });
  }
  if (dataPages > MAX_BATCH_DATA_PAGES) {
    throw new ProtocolError(`PAGES with ${dataPages} data pages (at most ${MAX_BATCH_DATA_PAGES})`);
  }
  if (rawLength !== dataPages * PAGE_SIZE) {
    throw new ProtocolError(`PAGES says ${rawLength} raw bytes for ${dataPages} data pages`);
  }
  const data = message.subarray(dataAt);
  if (codec === Codec.NONE && data.length !== rawLength) {
    throw new ProtocolError(`PAGES carries ${data.length} bytes for ${rawLength} raw bytes`);
  }
  return { codec, round, runs, rawLength, data };
}

// ---- state ----

export interface StateChunk {
  codec: number;
  part: number;
  parts: number;
  rawLength: number;
  data: Uint8Array;
}

export function encodeStateChunk(chunk: StateChunk, checksum: Checksum): Uint8Array {
  const message = new Uint8Array(STATE_HEADER + chunk.data.length);
  const view = new DataView(message.buffer);
  message[0] = MessageType.STATE;
  message[1] = chunk.codec;
  view.setUint16(2, chunk.part, true);
  view.setUint16(4, chunk.parts, true);
  view.setUint32(8, chunk.rawLength, true);
  message.set(chunk.data, STATE_HEADER);
  view.setUint32(12, checksum(message.subarray(STATE_HEADER)), true);
  return message;
}

function decodeStateChunk(message: Uint8Array, checksum: Checksum): StateChunk {
  if (message.length < STATE_HEADER)
    throw new ProtocolError("a STATE message shorter than its header");
  verifyCheck(message, STATE_HEADER, checksum, "STATE");
  const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
  const codec = message[1]!;
  if (codec !== Codec.NONE && codec !== Codec.LZ)
    throw new ProtocolError(`STATE with unknown codec ${codec}`);
  const part = view.getUint16(2, true);
  const parts = view.getUint16(4, true);
  const rawLength = view.getUint32(8, true);
  if (parts === 0 || parts > MAX_STATE_PARTS || part >= parts) {
    throw new ProtocolError(`STATE part ${part} of ${parts} (at most ${MAX_STATE_PARTS} parts)`);
  }
  if (rawLength === 0 || rawLength > STATE_CHUNK_BYTES) {
    throw new ProtocolError(`STATE chunk of ${rawLength} raw bytes (1..${STATE_CHUNK_BYTES})`);
  }
  const data = message.subarray(STATE_HEADER);
  if (codec === Codec.NONE && data.length !== rawLength) {
    throw new ProtocolError(`STATE carries ${data.length} bytes for ${rawLength} raw bytes`);
  }
  return { codec, part, parts, rawLength, data };
}

/** Room left in a message for data after a PAGES header with `runs` runs. */
export function pagesDataRoom(runs: number): number {
  return MAX_MESSAGE_BYTES - PAGES_HEADER - runs * RUN_BYTES;
}
