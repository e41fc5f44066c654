// A machine being filled by a migration: built empty from the source's
// configuration, it takes pages while it is not running, then the state, and
// only then starts. Until it starts it can be dropped without a trace.
import type { Machine } from "../machine/machine.ts";
import { PageBitmap } from "../platform/page-bitmap.ts";
import type { PageCodec } from "./page-codec.ts";
import { Codec, PAGE_SIZE, ProtocolError, RunKind, type PageBatch } from "./protocol.ts";

export class IncomingMachine {
  /** Pages that received data (the rest are still zero). */
  private readonly received: PageBitmap;
  private restored = false;
  private started = false;

  constructor(
    readonly machine: Machine,
    private readonly codec: PageCodec,
  ) {
    if (machine.runState !== "paused") throw new Error("an incoming machine must not have run");
    this.received = new PageBitmap(machine.core.memory.ramBytes / PAGE_SIZE);
  }

  /** Writes one batch of pages; refuses one that names pages beyond RAM or does not decode. */
  applyPages(batch: PageBatch): number {
    if (this.restored) throw new ProtocolError("PAGES after the state");
    let pages = 0;
    for (const run of batch.runs) {
      if (run.first + run.count > this.received.pages) {
        throw new ProtocolError(
          `PAGES names pages ${run.first}..${run.first + run.count - 1}, beyond RAM (${this.received.pages} pages)`,
        );
      }
      pages += run.count;
    }
    let data = batch.data;
    if (batch.codec === Codec.LZ && batch.rawLength > 0) {
      try {
        data = this.codec.decompress(batch.data, batch.rawLength);
      } catch (error) {
        throw new ProtocolError(`PAGES data does not decode: ${(error as Error).message}`);
      }
    }
    const memory = this.machine.core.memory;
    let at = 0;
    for (const run of batch.runs) {
      const phys = run.first * PAGE_SIZE;
      const bytes = run.count * PAGE_SIZE;
      if (run.kind === RunKind.ZERO) {
        memory.fill(phys, bytes, 0);
      } else {
        memory.write(phys, data.subarray(at, at + bytes));
        at += bytes;
        for (let page = run.first; page < run.first + run.count; page++) this.received.add(page);
      }
    }
    return pages;
  }

  /**
   * Restores the machine state (everything checked first: a refused state
   * changes nothing). Pages the balloon holds are zero on the source; any
   * we received before it took them are zeroed here too.
   */
  restore(state: unknown): void {
    if (this.restored) throw new ProtocolError("a second state");
    this.machine.restoreState(state);
    this.restored = true;
    const held = this.machine.balloon?.ballooned;
    if (!held) return;
    const memory = this.machine.core.memory;
    this.received.forEach((page) => {
      if (held.has(page)) memory.fill(page * PAGE_SIZE, PAGE_SIZE, 0);
    });
  }

  /** Runs the guest, its clock moved on by the time it spent in transit. */
  start(downtimeNs: number): void {
    if (!this.restored) throw new Error("the state has not arrived");
    if (this.started) return;
    this.started = true;
    this.machine.start({ downtimeNs });
  }
}
