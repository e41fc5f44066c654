// One VM per Web Worker. The page drives it over comlink: boot a kernel (or
// resume a snapshot, or receive a migrating guest), type into its serial
// port, pause and resume it, save a snapshot, move the guest live to another
// tab, and read its status. The guest's console output comes back through
// the events proxy the page hands to boot(), restore() or receive(). For a
// migration the page hands over a data channel it negotiated: from then on
// this worker owns the wire.
import * as Comlink from "comlink";
import type { BalloonInfo } from "../devices/virtio/balloon/device.ts";
import type { PvclockInfo } from "../devices/kvmclock/device.ts";
import { MemoryView } from "../machine/memory-view.ts";
import { Machine, type StopReason } from "../machine/machine.ts";
import type { DirtyLogReader } from "../machine/dirty-log.ts";
import type { MachineConfig } from "../machine/machine-config.ts";
import { receiveMigration, type IncomingProgress } from "../migration/destination.ts";
import { PageCodec } from "../migration/page-codec.ts";
import type { Done } from "../migration/protocol.ts";
import { compileCore } from "../core/wasm-source.ts";
import {
  captureSnapshot,
  loadSnapshot,
  snapshotConfig,
  type SnapshotSummary,
} from "../migration/snapshot.ts";
import { migrateOut, type MigrationProgress } from "../migration/source.ts";
import type { MigrationTrace } from "../migration/trace.ts";
import { openDataChannelTransport } from "../migration/transports/data-channel.ts";
import { PacedTransport } from "../migration/transports/paced.ts";
import { rehearseArrival } from "../migration/rehearsal.ts";

export interface BootRequest {
  kernelUrl: string;
  initrdUrl?: string;
  cmdline: string;
  ramBytes: number;
  /** The balloon offers free page reporting (default true). */
  freePageReporting?: boolean;
}

export interface VmEvents {
  /** Bytes the guest wrote to COM1. */
  serial(bytes: Uint8Array): void;
  /** The guest stopped by itself (exit, reset, halt, triple fault). */
  stopped(reason: StopReason): void;
}

export interface VmStatus {
  /** "moved": the guest migrated away from this worker. */
  state: "idle" | "running" | "paused" | "stopped" | "moved";
  stopReason: string | null;
  instructions: number;
  /** Millions of instructions per second since the last status() call. */
  mips: number;
  /** Guest time since power-on, in seconds. */
  guestSeconds: number;
  ramBytes: number;
  /** The balloon's target, what the guest gave and its statistics; null without a balloon. */
  balloon: BalloonInfo | null;
  /** What kvm-clock shows the guest; null without kvm-clock or a machine. */
  clock: PvclockInfo | null;
  /** The host's wall clock when this status was taken (epoch ms), to set against clock.guestWallMs. */
  hostWallMs: number;
}

export interface MigrateRequest {
  downtimeLimitMs?: number;
  verify?: boolean;
  /** The page's record of the guest's journey, handed to the destination's page. */
  journal?: Record<string, unknown>;
  /** Caps the link (bytes per second), so rounds are visible on one machine. */
  linkBytesPerSecond?: number;
}

export interface ReceivePolicy {
  /** Offered guests with more RAM are refused. */
  maxRamBytes: number;
}

/** How long a negotiated data channel may take to open. */
const CHANNEL_OPEN_TIMEOUT_MS = 15_000;

let machine: Machine | null = null;
/** Set once the guest moved away: the machine here stays paused for good. */
let movedAway = false;
/** A migration (out or in) is under way in this worker. */
let migrating = false;
/** Cancels the outgoing migration under way. */
let cancelOutgoing: AbortController | null = null;
let lastSample = { at: performance.now(), instructions: 0 };
let codec: Promise<PageCodec> | null = null;
const dirtyLogs = new Map<number, DirtyLogReader>();
let nextDirtyLog = 1;
/** The page's heatmap, while it shows one. */
let memoryView: MemoryView | null = null;

function pageCodec(): Promise<PageCodec> {
  codec ??= PageCodec.create();
  return codec;
}

function running(): Machine {
  if (!machine || movedAway) throw new Error("no machine is running here");
  return machine;
}

async function fetchBytes(url: string): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok)
    throw new Error(`fetching ${url} failed: ${response.status} ${response.statusText}`);
  return new Uint8Array(await response.arrayBuffer());
}

function serialTo(events: VmEvents) {
  return (bytes: Uint8Array) => events.serial(Comlink.transfer(bytes, [bytes.buffer]));
}

async function createMachine(
  ramBytes: number,
  events: VmEvents,
  freePageReporting = true,
): Promise<Machine> {
  if (machine) throw new Error("this worker already runs a machine");
  return Machine.create({
    ramBytes,
    balloon: { freePageReporting },
    onSerialOutput: serialTo(events),
  });
}

function watch(created: Machine, events: VmEvents): void {
  machine = created;
  lastSample = { at: performance.now(), instructions: created.core.liveInstructionCount() };
  void created.loop.stopped().then((reason) => events.stopped(reason as StopReason));
}

function run(created: Machine, events: VmEvents): void {
  watch(created, events);
  created.start();
}

const api = {
  /**
   * Compiles the core and the page codec ahead of need, and rehearses an
   * arrival (rehearsal.ts): a worker kept ready for a guest builds its
   * machine without waiting, and pauses the guest no longer than it must.
   */
  async prepare(): Promise<void> {
    const [, codec] = await Promise.all([compileCore(), pageCodec()]);
    await rehearseArrival(codec);
  },

  async boot(request: BootRequest, events: VmEvents): Promise<{ kernelBytes: number }> {
    const [kernel, initrd] = await Promise.all([
      fetchBytes(request.kernelUrl),
      request.initrdUrl ? fetchBytes(request.initrdUrl) : Promise.resolve(undefined),
    ]);
    const created = await createMachine(request.ramBytes, events, request.freePageReporting);
    created.loadKernel(kernel, { cmdline: request.cmdline, initrd });
    run(created, events);
    void pageCodec(); // ready before the first migration
    return { kernelBytes: kernel.length };
  },

  /** Resumes a snapshot (from saveSnapshot(), here or in another tab) instead of booting. */
  async restore(bytes: Uint8Array, events: VmEvents): Promise<SnapshotSummary> {
    if (machine) throw new Error("this worker already runs a machine");
    // The snapshot says what machine it needs.
    const created = await Machine.fromConfig(snapshotConfig(bytes), {
      onSerialOutput: serialTo(events),
    });
    const summary = loadSnapshot(created, bytes);
    run(created, events);
    return summary;
  },

  /** A snapshot of the running machine (paused for the copy, then resumed). */
  async saveSnapshot(): Promise<{ bytes: Uint8Array; summary: SnapshotSummary }> {
    const { bytes, summary } = await captureSnapshot(running());
    return Comlink.transfer({ bytes, summary }, [bytes.buffer]);
  },

  /**
   * Moves the running guest live over `channel` (a data channel the page
   * negotiated and transferred here, still connecting) to a tab running
   * receive(). Resolves with the trace: when it completed, the guest runs
   * there and this worker's machine stays paused for good.
   */
  async migrate(
    channel: RTCDataChannel,
    request: MigrateRequest,
    onProgress: (progress: MigrationProgress) => void,
  ): Promise<MigrationTrace> {
    const source = running();
    if (migrating) throw new Error("a migration of this guest is already under way");
    migrating = true;
    cancelOutgoing = new AbortController();
    try {
      const channelTransport = await openDataChannelTransport(channel, CHANNEL_OPEN_TIMEOUT_MS);
      const transport = request.linkBytesPerSecond
        ? new PacedTransport(channelTransport, request.linkBytesPerSecond)
        : channelTransport;
      const trace = await migrateOut(source, transport, {
        codec: await pageCodec(),
        downtimeLimitMs: request.downtimeLimitMs,
        verify: request.verify,
        journal: request.journal,
        onProgress,
        signal: cancelOutgoing.signal,
        onRound: (round, sent) => memoryView?.watchRound(round, sent),
      });
      if (trace.outcome !== "abandoned") movedAway = true;
      return trace;
    } finally {
      migrating = false;
      cancelOutgoing = null;
      memoryView?.migrationEnded();
    }
  },

  /** Calls off the outgoing migration, unless the guest is already being handed over. */
  cancelMigration(): void {
    cancelOutgoing?.abort();
  },

  /**
   * Waits on `channel` for a guest from another tab; when it arrives it runs
   * here, its console going to `events`. This worker must not run a machine yet.
   */
  async receive(
    channel: RTCDataChannel,
    policy: ReceivePolicy,
    events: VmEvents,
    onProgress: (progress: IncomingProgress) => void,
  ): Promise<{
    trace: MigrationTrace;
    summary: Done | null;
    journal: Record<string, unknown> | null;
  }> {
    if (machine || migrating) throw new Error("this worker already has a machine");
    migrating = true;
    try {
      const transport = await openDataChannelTransport(channel, CHANNEL_OPEN_TIMEOUT_MS);
      const result = await receiveMigration(transport, {
        codec: await pageCodec(),
        maxRamBytes: policy.maxRamBytes,
        createMachine: (config: MachineConfig) =>
          Machine.fromConfig(config, { onSerialOutput: serialTo(events) }),
        onProgress,
      });
      if (result.machine) watch(result.machine, events);
      return { trace: result.trace, summary: result.summary, journal: result.journal };
    } finally {
      migrating = false;
    }
  },

  /**
   * One heatmap frame: a byte per guest page (PageShade in
   * machine/memory-view.ts). The first call opens the view.
   */
  async memoryFrame(): Promise<Uint8Array> {
    const current = running();
    if (!memoryView) {
      const codec = await pageCodec();
      memoryView = new MemoryView(current, (bytes) => codec.scanPages(bytes));
    }
    const frame = memoryView.frame();
    return Comlink.transfer(frame, [frame.buffer]);
  },

  /** Stops the heatmap's view (its dirty log reader). */
  closeMemoryView(): void {
    memoryView?.close();
    memoryView = null;
  },

  /** Starts a dirty log for a memory view: the pages written from now on. */
  openDirtyLog(): number {
    const id = nextDirtyLog++;
    dirtyLogs.set(id, running().dirtyLog.open());
    return id;
  },

  /** The pages written since the last call, as [start, end) page ranges. */
  collectDirty(id: number): Array<[number, number]> {
    const reader = dirtyLogs.get(id);
    if (!reader) throw new Error(`no dirty log ${id}`);
    return reader.collect().ranges();
  },

  closeDirtyLog(id: number): void {
    dirtyLogs.get(id)?.close();
    dirtyLogs.delete(id);
  },

  sendSerial(bytes: Uint8Array): void {
    if (!movedAway) machine?.sendSerial(bytes);
  },

  async pause(): Promise<void> {
    if (!movedAway) await machine?.pause();
  },

  resume(): void {
    if (!movedAway) machine?.start();
  },

  /** Asks the guest to keep `bytes` of memory: the balloon takes the rest. */
  setBalloonTarget(bytes: number): void {
    const current = running();
    if (!current.balloon) throw new Error("no machine with a balloon is running");
    current.balloon.setTargetBytes(bytes);
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
        clock: null,
        hostWallMs: Date.now(),
      };
    }
    const now = performance.now();
    const instructions = machine.core.liveInstructionCount();
    const seconds = (now - lastSample.at) / 1000;
    const mips = seconds > 0 ? (instructions - lastSample.instructions) / seconds / 1e6 : 0;
    lastSample = { at: now, instructions };
    const loopState = movedAway ? "moved" : machine.runState;
    return {
      state: loopState,
      stopReason: machine.stopReason,
      instructions,
      mips,
      guestSeconds: machine.now() / 1e9,
      ramBytes: machine.core.memory.ramBytes,
      balloon: machine.balloon?.info() ?? null,
      clock: machine.kvmClock?.info() ?? null,
      hostWallMs: Date.now(),
    };
  },
};

export type VmWorkerApi = typeof api;

Comlink.expose(api);
