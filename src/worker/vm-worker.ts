// One VM per Web Worker. The page drives it over comlink; execution runs in
// slices so the worker stays responsive to status() calls between them.
import * as Comlink from "comlink";
import { Machine } from "../machine/machine.ts";
import { buildDemoRom } from "./demo-rom.ts";

const RAM_BYTES = 32 * 1024 * 1024;
const SLICE_INSNS = 2_000_000;

export interface VmStatus {
  state: "idle" | "running" | "stopped";
  stopReason: string | null;
  instructions: number;
  /** Millions of instructions per second over the last measurement window. */
  mips: number;
  debugcon: string;
}

let machine: Machine | null = null;
const status: VmStatus = {
  state: "idle",
  stopReason: null,
  instructions: 0,
  mips: 0,
  debugcon: "",
};

function runSlice(): void {
  if (!machine || status.state !== "running") return;
  const started = performance.now();
  const result = machine.runUntilStop({ maxInsns: SLICE_INSNS, sliceInsns: SLICE_INSNS });
  const seconds = (performance.now() - started) / 1000;
  status.instructions += result.instructions;
  if (seconds > 0) status.mips = result.instructions / seconds / 1e6;
  if (result.reason !== "max-insns") {
    status.state = "stopped";
    status.stopReason = result.reason;
    return;
  }
  setTimeout(runSlice, 0); // yield so comlink messages get through
}

const api = {
  async boot(rom?: Uint8Array): Promise<void> {
    machine = await Machine.create({
      ramBytes: RAM_BYTES,
      onDebugconByte: (byte) => (status.debugcon += String.fromCharCode(byte)),
    });
    machine.loadBios(rom ?? buildDemoRom());
    Object.assign(status, { state: "running", stopReason: null, instructions: 0, mips: 0 });
    setTimeout(runSlice, 0);
  },
  status(): VmStatus {
    return { ...status };
  },
};

export type VmWorkerApi = typeof api;

Comlink.expose(api);
