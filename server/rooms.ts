// Rooms of at most two members, found by a short random code. A room lives
// until its lifetime is over or its last member leaves; the members hear
// when the other one comes and goes.
import { randomInt } from "node:crypto";
import {
  CODE_ALPHABET,
  CODE_LENGTH,
  normalizeCode,
  type Refusal,
  type ServerMessage,
} from "./signaling-protocol.ts";

/** A connection as the rooms see it. */
export interface RoomMember {
  tell(message: ServerMessage): void;
  /** Ends the connection, saying why. */
  expel(refusal: Refusal, message: string): void;
}

interface Room {
  readonly code: string;
  readonly members: RoomMember[];
  readonly expiresAt: number;
  readonly timer: ReturnType<typeof setTimeout>;
}

export interface RoomEntry {
  code: string;
  expiresInMs: number;
  /** Whether the room already had a member. */
  peerPresent: boolean;
}

export type JoinResult = ({ joined: true } & RoomEntry) | { joined: false; refusal: Refusal };

export class RoomRegistry {
  private readonly rooms = new Map<string, Room>();
  private readonly roomOfMember = new Map<RoomMember, Room>();

  constructor(private readonly lifetimeMs: number) {}

  get roomCount(): number {
    return this.rooms.size;
  }

  /** A new room with `creator` in it. */
  create(creator: RoomMember): RoomEntry {
    let code = randomCode();
    while (this.rooms.has(code)) code = randomCode();
    const timer = setTimeout(() => this.expire(code), this.lifetimeMs);
    const room: Room = { code, members: [creator], expiresAt: Date.now() + this.lifetimeMs, timer };
    this.rooms.set(code, room);
    this.roomOfMember.set(creator, room);
    return { code, expiresInMs: this.lifetimeMs, peerPresent: false };
  }

  join(typedCode: string, member: RoomMember): JoinResult {
    const code = normalizeCode(typedCode);
    const room = code === null ? undefined : this.rooms.get(code);
    if (!room) return { joined: false, refusal: "no-such-room" };
    if (room.members.length >= 2) return { joined: false, refusal: "room-full" };
    for (const other of room.members) other.tell({ type: "peer-joined" });
    room.members.push(member);
    this.roomOfMember.set(member, room);
    const expiresInMs = room.expiresAt - Date.now();
    return { joined: true, code: room.code, expiresInMs, peerPresent: true };
  }

  isMember(member: RoomMember): boolean {
    return this.roomOfMember.has(member);
  }

  /** The other member of `member`'s room, if there is one now. */
  peerOf(member: RoomMember): RoomMember | undefined {
    return this.roomOfMember.get(member)?.members.find((other) => other !== member);
  }

  leave(member: RoomMember): void {
    const room = this.roomOfMember.get(member);
    if (!room) return;
    this.roomOfMember.delete(member);
    room.members.splice(room.members.indexOf(member), 1);
    if (room.members.length === 0) {
      this.remove(room);
    } else {
      for (const other of room.members) other.tell({ type: "peer-left" });
    }
  }

  /** Ends every room (the server is stopping). */
  clear(): void {
    for (const room of [...this.rooms.values()]) this.remove(room);
  }

  private expire(code: string): void {
    const room = this.rooms.get(code);
    if (!room) return;
    this.remove(room);
    const minutes = (this.lifetimeMs / 60_000).toFixed(1);
    for (const member of room.members) {
      member.expel("room-expired", `room ${code} expired after ${minutes} minutes`);
    }
  }

  private remove(room: Room): void {
    clearTimeout(room.timer);
    this.rooms.delete(room.code);
    for (const member of room.members) this.roomOfMember.delete(member);
  }
}

function randomCode(): string {
  let code = "";
  // randomInt draws without modulo bias.
  for (let i = 0; i < CODE_LENGTH; i++) code += CODE_ALPHABET[randomInt(CODE_ALPHABET.length)];
  return code;
}
