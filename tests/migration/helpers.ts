// What the migration tests share: a small guest that keeps dirtying memory
// (a real-mode ROM, so no kernel boot is needed), machines to move it
// between, and a wire that can be made to fail at a chosen message.
import { Machine, type MachineOptions } from "../../src/machine/machine.ts";
import { PageCodec } from "../../src/migration/page-codec.ts";
import { messageTypeName } from "../../src/migration/protocol.ts";
import {
  memoryTransportPair,
  MemoryTransport,
  type MemoryLinkOptions,
} from "../../src/migration/transports/memory.ts";
import { buildRealModeRom } from "../fixtures/real-mode-rom.ts";
import { assembleSource } from "../helpers/guest.ts";

export const RAM = 4 * 1024 * 1024;
/** Where the guest keeps its counter (a dword at 0000:0504). */
export const COUNTER_ADDRESS = 0x504;

// An LCG scatters dword writes over pages 0x10..0x8F and counts in 0x504,
// with HLT breaks so timers run; pages 0x90..0x9F get one write every
// 4096 iterations (a slowly moving tail).
const DIRTIER = `
bits 16
  xor ax, ax
  mov ds, ax
  mov dword [0x500], 12345
again:
  mov eax, [0x500]
  imul eax, eax, 1103515245
  add eax, 12345
  mov [0x500], eax
  mov ebx, eax
  shr ebx, 16
  and bx, 0x7f
  add bx, 0x10
  shl bx, 8
  mov es, bx
  mov di, ax
  and di, 0xffc
  mov [es:di], eax
  inc dword [0x504]
  test word [0x504], 0xfff
  jnz again
  mov bx, [0x506]
  and bx, 0xf
  add bx, 0x90
  shl bx, 8
  mov es, bx
  mov [es:0], eax
  jmp again
`;

let rom: Uint8Array | null = null;
export function dirtierRom(): Uint8Array {
  rom ??= buildRealModeRom(assembleSource(DIRTIER, "dirtier"));
  return rom;
}

let codec: Promise<PageCodec> | null = null;
export function sharedCodec(): Promise<PageCodec> {
  codec ??= PageCodec.create();
  return codec;
}

export async function runningDirtier(options: Partial<MachineOptions> = {}): Promise<Machine> {
  const machine = await Machine.create({ ramBytes: RAM, ...options });
  machine.loadBios(dirtierRom());
  machine.start();
  return machine;
}

export function counterOf(machine: Machine): number {
  return machine.core.memory.read32(COUNTER_ADDRESS);
}

export function ramOf(machine: Machine): Buffer {
  return Buffer.from(machine.core.memory.read(0, machine.core.memory.ramBytes));
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A wire that fails on purpose: when `when` matches a message one side
 * sends (its type name and how many of that type this side sent before),
 * it closes instead of sending it, corrupts it, or stalls: from then on that
 * side sends nothing and does not close (a peer that hangs), or jams: what
 * that side sends from then on piles up unsent, as on a data channel whose
 * peer vanished without closing it.
 */
export function faultyPair(
  fault: {
    side: "source" | "destination";
    type: string;
    nth?: number;
    action: "close" | "corrupt" | "stall" | "jam";
  },
  link: MemoryLinkOptions = {},
): [MemoryTransport, MemoryTransport] {
  const [source, destination] = memoryTransportPair(link);
  const target = fault.side === "source" ? source : destination;
  const counts = new Map<string, number>();
  const send = target.send.bind(target);
  let stalled = false;
  target.send = (message: Uint8Array) => {
    if (stalled) return;
    const name = messageTypeName(message[0]!);
    const seen = counts.get(name) ?? 0;
    counts.set(name, seen + 1);
    if (name === fault.type && seen === (fault.nth ?? 0)) {
      if (fault.action === "close") {
        target.close(`fault injected at ${name}`);
        return;
      }
      if (fault.action === "stall") {
        stalled = true;
        return;
      }
      if (fault.action === "jam") {
        let piled = 1 << 20; // the queue was already full when the peer vanished
        target.send = (queued: Uint8Array) => void (piled += queued.length);
        Object.defineProperty(target, "bufferedBytes", { get: () => piled });
        target.drained = () => new Promise<void>(() => {});
        target.send(message);
        return;
      }
      const bad = message.slice();
      bad[Math.min(bad.length - 1, 17)]! ^= 0xff;
      bad[bad.length - 1]! ^= 0x5a;
      send(bad);
      return;
    }
    send(message);
  };
  return [source, destination];
}
