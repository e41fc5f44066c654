// A receiving worker would otherwise run the switchover's code for the first
// time while the guest is paused: restoring the state, the digests, starting
// the run loop. Lazy compilation then costs downtime (about 8 of an idle
// guest's 20 ms, measured in Chromium). Rehearsing an arrival on a tiny
// machine moves that cost to when the user switched Receive on.
import { Machine } from "../machine/machine.ts";
import { ramDigest, stateDigest } from "./digest.ts";
import { IncomingMachine } from "./incoming-machine.ts";
import type { PageCodec } from "./page-codec.ts";
import { Codec, PAGE_SIZE, RunKind } from "./protocol.ts";

const REHEARSAL_RAM_BYTES = 4 * 1024 * 1024;

/**
 * Moves a tiny, never-booted machine through an arrival: pages, state,
 * digests, start, pause. Returns it, paused, for whoever wants to look.
 */
export async function rehearseArrival(codec: PageCodec): Promise<Machine> {
  const source = await Machine.create({ ramBytes: REHEARSAL_RAM_BYTES, balloon: {} });
  const json = JSON.stringify(source.saveState());
  const target = new IncomingMachine(await Machine.fromConfig(source.config), codec);
  const raw = new Uint8Array(2 * PAGE_SIZE).fill(0x5a);
  const packed = codec.compress(raw);
  target.applyPages({
    codec: packed ? Codec.LZ : Codec.NONE,
    round: 0,
    runs: [{ first: 1, count: 2, kind: RunKind.DATA }],
    rawLength: raw.length,
    data: packed ?? raw,
  });
  target.restore(JSON.parse(json));
  ramDigest(target.machine, codec);
  stateDigest(JSON.stringify(target.machine.saveState()), codec);
  // The machine has no firmware: it runs for a moment, whatever it finds.
  target.start(0);
  await target.machine.pause();
  return target.machine;
}
