// One client's conversation with the signaling server: its limits (rate,
// size, wrong codes), its requests (create, join) and the signals it asks
// to relay. Every refusal is answered with a reason the client can show.
import type { RawData, WebSocket } from "ws";
import type { RoomMember, RoomRegistry } from "./rooms.ts";
import {
  CLOSE_CODES,
  SIGNAL_KINDS,
  type ClientMessage,
  type Refusal,
  type RelayedSignal,
  type ServerMessage,
} from "./signaling-protocol.ts";
import { TokenBucket, type RateLimit } from "./token-bucket.ts";

export interface SessionLimits {
  maxMessageBytes: number;
  rateLimit: RateLimit;
  maxWrongCodes: number;
}

/** A client's socket as the rooms and the session speak to it. */
export class ClientConnection implements RoomMember {
  constructor(private readonly socket: WebSocket) {}

  tell(message: ServerMessage): void {
    if (this.socket.readyState === this.socket.OPEN) this.socket.send(JSON.stringify(message));
  }

  refuse(refusal: Refusal, message: string): void {
    this.tell({ type: "error", refusal, message });
  }

  expel(refusal: keyof typeof CLOSE_CODES, message: string): void {
    this.refuse(refusal, message);
    // A close reason holds 123 bytes; the error message above has the whole text.
    this.socket.close(CLOSE_CODES[refusal], message.slice(0, 120));
  }
}

export class SignalingSession {
  private readonly bucket: TokenBucket;
  private wrongCodes = 0;

  constructor(
    private readonly client: ClientConnection,
    private readonly rooms: RoomRegistry,
    private readonly limits: SessionLimits,
  ) {
    this.bucket = new TokenBucket(limits.rateLimit);
  }

  receive(data: RawData, isBinary: boolean): void {
    if (!this.bucket.take()) {
      const rate = `${this.limits.rateLimit.perSecond} per second`;
      return this.client.refuse("rate-limited", `too many messages: at most ${rate}; dropped`);
    }
    const size = byteLength(data);
    if (size > this.limits.maxMessageBytes) {
      const limit = this.limits.maxMessageBytes;
      const text = `a message of ${size} bytes exceeds the limit of ${limit}; dropped`;
      return this.client.refuse("message-too-large", text);
    }
    const message = isBinary ? null : parseClientMessage(data.toString());
    if (!message) {
      return this.client.refuse("not-json", "messages must be JSON objects with a `type` field");
    }
    switch (message.type) {
      case "create":
        return this.create();
      case "join":
        return this.join(String(message.code));
      case "signal":
        return this.relay(message.signal);
      default: {
        const type = JSON.stringify((message as { type: string }).type);
        return this.client.refuse("unknown-type", `unknown message type ${type}`);
      }
    }
  }

  /** The connection closed. */
  end(): void {
    this.rooms.leave(this.client);
  }

  private create(): void {
    if (this.rooms.isMember(this.client)) return this.refuseSecondRoom();
    const room = this.rooms.create(this.client);
    this.client.tell({ type: "created", code: room.code, expiresInMs: room.expiresInMs });
  }

  private join(typedCode: string): void {
    if (this.rooms.isMember(this.client)) return this.refuseSecondRoom();
    const result = this.rooms.join(typedCode, this.client);
    if (result.joined) {
      const { code, expiresInMs, peerPresent } = result;
      return this.client.tell({ type: "joined", code, expiresInMs, peerPresent });
    }
    if (result.refusal === "room-full") {
      return this.client.refuse("room-full", `room ${typedCode} already has two members`);
    }
    // Codes are guessable only by many tries: few per connection, few per second.
    if (++this.wrongCodes >= this.limits.maxWrongCodes) {
      return this.client.expel("too-many-wrong-codes", `${this.wrongCodes} wrong codes: goodbye`);
    }
    const text = `there is no room ${JSON.stringify(typedCode)} (wrong code, or it expired)`;
    this.client.refuse("no-such-room", text);
  }

  private relay(signal: unknown): void {
    if (!this.rooms.isMember(this.client)) {
      return this.client.refuse("not-in-room", "create or join a room first");
    }
    if (!isRelayable(signal)) {
      const kinds = SIGNAL_KINDS.join(", ");
      return this.client.refuse("not-relayed", `only signals of kind ${kinds} are relayed`);
    }
    const peer = this.rooms.peerOf(this.client);
    if (!peer) {
      const text = "nobody else is in the room yet; the signal was dropped";
      return this.client.refuse("no-peer", text);
    }
    peer.tell({ type: "signal", signal });
  }

  private refuseSecondRoom(): void {
    this.client.refuse("already-in-room", "this connection is already in a room");
  }
}

function parseClientMessage(text: string): ClientMessage | null {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
    if (typeof (value as { type?: unknown }).type !== "string") return null;
    return value as ClientMessage;
  } catch {
    return null;
  }
}

function isRelayable(signal: unknown): signal is RelayedSignal {
  if (typeof signal !== "object" || signal === null || Array.isArray(signal)) return false;
  const kind = (signal as { kind?: unknown }).kind;
  return (SIGNAL_KINDS as readonly unknown[]).includes(kind);
}

function byteLength(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((sum, part) => sum + part.length, 0);
  return data.byteLength;
}
