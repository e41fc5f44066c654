// One VM per Web Worker. The page drives it over comlink: boot a kernel (or
// resume a snapshot), type into its serial port, pause and resume it, save a
// snapshot, and read its status. The guest's console output comes back
// through the events proxy the page hands to boot() or restore().
import * as Comlink from "comlink";
import type { BalloonInfo } from "../devices/virtio/balloon/device.ts";
import { Machine, type StopReason } from "../machine/machine.ts";
import { captureSnapshot, loadSnapshot, type SnapshotSummary } from "../migration/snapshot.ts";

export interface BootRequest {
  kernelUrl: string;
  initrdUrl?: string;
  cmdline: string;
  ramBytes: number;
}

export interface VmEvents {
  /** Bytes the guest wrote to COM1. */
  serial(bytes: Uint8Array): void;
  /** The guest stopped by itself (exit, reset, halt, triple fault). */
  stopped(reason: StopReason): void;
}

export interface VmStatus {
  state: "idle" | "running" | "paused" | "stopped";
  stopReason: string | null;
  instructions: number;
  /** Millions of instructions per second since the last status() call. */
  mips: number;
  /** Guest time since power-on, in seconds. */
  guestSeconds: number;
  ramBytes: number;
  /** The balloon's target, what the guest gave and its statistics; null without a balloon. */
  balloon: BalloonInfo | null;
}

let machine: Machine | null = null;
let lastSample = { at: performance.now(), instructions: 0 };

async function fetchBytes(url: string): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok)
    throw new Error(`fetching ${url} failed: ${response.status} ${response.statusText}`);
  return new Uint8Array(await response.arrayBuffer());
}

async function createMachine(ramBytes: number, events: VmEvents): Promise<Machine> {
  if (machine) throw new Error("this worker already runs a machine");
  return Machine.create({
    ramBytes,
    onSerialOutput: (bytes) => events.serial(Comlink.transfer(bytes, [bytes.buffer])),
  });
}

function run(created: Machine, events: VmEvents): void {
  machine = created;
  lastSample = { at: performance.now(), instructions: created.core.liveInstructionCount() };
  created.start();
  void created.loop.stopped().then((reason) => events.stopped(reason as StopReason));
}

const api = {
  async boot(request: BootRequest, events: VmEvents): Promise<{ kernelBytes: number }> {
    const [kernel, initrd] = await Promise.all([
      fetchBytes(request.kernelUrl),
      request.initrdUrl ? fetchBytes(request.initrdUrl) : Promise.resolve(undefined),
    ]);
    const created = await createMachine(request.ramBytes, events);
    created.loadKernel(kernel, { cmdline: request.cmdline, initrd });
    run(created, events);
    return { kernelBytes: kernel.length };
  },

  /** Resumes a snapshot (from saveSnapshot(), here or in another tab) instead of booting. */
  async restore(bytes: Uint8Array, ramBytes: number, events: VmEvents): Promise<SnapshotSummary> {
    const created = await createMachine(ramBytes, events);
    const summary = loadSnapshot(created, bytes);
    run(created, events);
    return summary;
  },

  /** A snapshot of the running machine (paused for the copy, then resumed). */
  async saveSnapshot(): Promise<{ bytes: Uint8Array; summary: SnapshotSummary }> {
    if (!machine) throw new Error("no machine is running");
    const { bytes, summary } = await captureSnapshot(machine);
    return Comlink.transfer({ bytes, summary }, [bytes.buffer]);
  },

  sendSerial(bytes: Uint8Array): void {
    machine?.sendSerial(bytes);
  },

  async pause(): Promise<void> {
    await machine?.pause();
  },

  resume(): void {
    machine?.start();
  },

  /** Asks the guest to keep `bytes` of memory: the balloon takes the rest. */
  setBalloonTarget(bytes: number): void {
    if (!machine?.balloon) throw new Error("no machine with a balloon is running");
    machine.balloon.setTargetBytes(bytes);
  },

  status(): VmStatus {
    if (!machine) {
      return {
        state: "idle",
        stopReason: null,
        instructions: 0,
        mips: 0,
        guestSeconds: 0,
        ramBytes: 0,
        balloon: null,
      };
    }
    const now = performance.now();
    const instructions = machine.core.liveInstructionCount();
    const seconds = (now - lastSample.at) / 1000;
    const mips = seconds > 0 ? (instructions - lastSample.instructions) / seconds / 1e6 : 0;
    lastSample = { at: now, instructions };
    const loopState = machine.loop.current;
    return {
      state: loopState,
      stopReason: machine.stopReason,
      instructions,
      mips,
      guestSeconds: machine.now() / 1e9,
      ramBytes: machine.core.memory.ramBytes,
      balloon: machine.balloon?.info() ?? null,
    };
  },
};

export type VmWorkerApi = typeof api;

Comlink.expose(api);
