// The firmware mapping as machine state: which bytes below 1 MiB are
// read-only ROM (aliased below 4 GiB). The image itself is in RAM and travels
// with it; the mapping decides whether guest writes there land.
import { expectInt, expectObject, expectVersion } from "../platform/state-check.ts";
import type { Stateful } from "../platform/stateful.ts";
import { MAX_ROM_BYTES, type Core } from "./core.ts";

export const ROM_STATE_VERSION = 1;

export interface RomState {
  version: typeof ROM_STATE_VERSION;
  /** Bytes of ROM ending at 1 MiB; 0 when no firmware is mapped. */
  bytes: number;
}

export class RomMappingState implements Stateful<RomState> {
  readonly stateId = "rom";

  constructor(private readonly core: Core) {}

  save(): RomState {
    return { version: ROM_STATE_VERSION, bytes: this.core.romBytes() };
  }

  prepareRestore(state: unknown): () => void {
    const what = "ROM state";
    const fields = expectObject(state, what);
    expectVersion(fields, ROM_STATE_VERSION, what);
    const bytes = expectInt(fields, "bytes", 0, MAX_ROM_BYTES, what);
    if (bytes % 4096 !== 0) throw new RangeError(`${what}.bytes must be whole 4 KiB pages`);
    if (bytes > this.core.memory.ramBytes) {
      throw new RangeError(`${what}.bytes ${bytes} exceeds this machine's RAM`);
    }
    return () => this.core.setRomMapping(bytes);
  }
}
