// Digests that show a migration moved the guest exactly: one of all RAM and
// one of the machine state, computed on both sides and compared.
import type { Machine } from "../machine/machine.ts";
import type { PageCodec } from "./page-codec.ts";

const encoder = new TextEncoder();

function hex(value: bigint): string {
  return value.toString(16).padStart(16, "0");
}

/** A 64-bit digest of every byte of the machine's RAM. */
export function ramDigest(machine: Machine, codec: PageCodec): string {
  const memory = machine.core.memory;
  return hex(memory.withView(0, memory.ramBytes, (bytes) => codec.hash64(bytes)));
}

/** A 64-bit digest of a machine state's JSON text. */
export function stateDigest(json: string, codec: PageCodec): string {
  return hex(codec.hash64(encoder.encode(json)));
}
