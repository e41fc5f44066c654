// What the signaling server and its clients say to each other: JSON text
// messages. A client creates or joins a room; inside it, the server relays
// only WebRTC signaling (the `signal` envelope) between the two members.

/** Where the server listens for WebSockets; Vite forwards the same path to it. */
export const SIGNALING_PATH = "/signal";
/** Its port unless HIVE86_SIGNAL_PORT says otherwise (npm start, vite.config.ts). */
export const DEFAULT_SIGNALING_PORT = 8787;

/** The signaling a room relays; anything else is refused, not forwarded. */
export const SIGNAL_KINDS = ["hello", "offer", "answer", "candidate", "bye"] as const;
export type SignalKind = (typeof SIGNAL_KINDS)[number];

/** One relayed signaling message: its kind and whatever fields that kind carries. */
export interface RelayedSignal {
  kind: SignalKind;
  [field: string]: unknown;
}

export type ClientMessage =
  { type: "create" } | { type: "join"; code: string } | { type: "signal"; signal: RelayedSignal };

export type ServerMessage =
  | { type: "created"; code: string; expiresInMs: number }
  | { type: "joined"; code: string; expiresInMs: number; peerPresent: boolean }
  | { type: "peer-joined" }
  | { type: "peer-left" }
  | { type: "signal"; signal: RelayedSignal }
  | { type: "error"; refusal: Refusal; message: string };

/** Why the server refused something; the message beside it says it in words. */
export type Refusal =
  | "origin-not-allowed"
  | "server-full"
  | "not-json"
  | "unknown-type"
  | "message-too-large"
  | "rate-limited"
  | "already-in-room"
  | "no-such-room"
  | "room-full"
  | "too-many-wrong-codes"
  | "not-in-room"
  | "no-peer"
  | "not-relayed"
  | "room-expired";

/** Close codes (4000-4999 are the application's) for refusals that end the connection. */
export const CLOSE_CODES = {
  "origin-not-allowed": 4403,
  "server-full": 4503,
  "too-many-wrong-codes": 4429,
  "room-expired": 4410,
} as const satisfies Partial<Record<Refusal, number>>;

/** Six characters with no 0/O, 1/I/L look-alikes: easy to read out and to type. */
export const CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";
export const CODE_LENGTH = 6;

/** A code as typed ("abc-234 ") in the form rooms use ("ABC234"), or null if it cannot be one. */
export function normalizeCode(typed: string): string | null {
  const code = typed.toUpperCase().replace(/[\s-]/g, "");
  if (code.length !== CODE_LENGTH) return null;
  for (const char of code) if (!CODE_ALPHABET.includes(char)) return null;
  return code;
}
