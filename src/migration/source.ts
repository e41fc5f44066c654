// The sending side of a live migration (the protocol is in protocol.ts):
// precopy rounds driven by the machine's dirty log while the guest runs,
// then a short pause to send the last pages and the state. It runs on the
// same thread as the guest, so it works in short slices and yields, and on
// any failure before GO the guest runs on here as if nothing had happened.
import type { Machine } from "../machine/machine.ts";
import type { DirtyLogReader } from "../machine/dirty-log.ts";
import { yieldToHost } from "../machine/run-loop.ts";
import { PageBitmap } from "../platform/page-bitmap.ts";
import { ramDigest, stateDigest } from "./digest.ts";
import { CalledOff, describeFailure } from "./failure.ts";
import { PageBatcher } from "./page-batcher.ts";
import type { PageCodec } from "./page-codec.ts";
import {
  Codec,
  CODEC_NAMES,
  decodeMessage,
  encodeControl,
  encodeStateChunk,
  MessageType,
  messageTypeName,
  PAGE_SIZE,
  PROTOCOL_NAME,
  PROTOCOL_VERSION,
  ProtocolError,
  STATE_CHUNK_BYTES,
  type ControlBodies,
  type ControlType,
  type Decoded,
} from "./protocol.ts";
import { newRound, newTrace, rate, type MigrationTrace, type RoundTrace } from "./trace.ts";
import { drainedWithin, type MessageTransport } from "./transport.ts";
import { Convergence } from "./convergence.ts";
import { isZeroPage } from "../platform/zero-page.ts";

export interface SourceOptions {
  /** Switch over once the estimated pause is this short (ms). */
  downtimeLimitMs?: number;
  /** Switch over after this many rounds after round 0, whatever the estimate. */
  maxRounds?: number;
  /** Slow the guest down step by step when it dirties memory faster than the wire drains. */
  autoConverge?: boolean;
  /** Compare digests of RAM and state on both sides before the destination may run the guest. */
  verify?: boolean;
  /** Send pages through the LZ codec (default true); false sends them raw (for comparisons). */
  compress?: boolean;
  /** The longest wait for the destination (ms). */
  timeoutMs?: number;
  /** Zero scan, compression and digests. */
  codec: PageCodec;
  onProgress?: (progress: MigrationProgress) => void;
  /** Cancels the migration (until GO is sent): the guest runs on here. */
  signal?: AbortSignal;
  /** Travels in HELLO to the destination's host (see Hello.journal); keep it well under 200 KiB. */
  journal?: Record<string, unknown>;
  /** Told at each round's start which set its sent pages go into (live; a memory view reads it). */
  onRound?: (round: number, sent: PageBitmap) => void;
}

export type MigrationPhase = "connecting" | "precopy" | "stop-and-copy" | "handover" | "done";

export interface MigrationProgress {
  phase: MigrationPhase;
  round: number;
  /** Pages handled and to handle in this round. */
  roundDone: number;
  roundTotal: number;
  /** The trace so far (rounds finished, totals). */
  trace: MigrationTrace;
}

export const DEFAULT_DOWNTIME_LIMIT_MS = 300;
export const DEFAULT_MAX_ROUNDS = 30;
const DEFAULT_TIMEOUT_MS = 15_000;
/** Host time the engine works before it lets the guest run again. */
const SLICE_MS = 6;
/** Bytes the wire may hold before the engine waits for it to drain (see data-channel.ts). */
const HIGH_WATER_BYTES = 384 * 1024;
/** Pages looked at between checks for room, time and messages. */
const CHUNK_PAGES = 64;
/** The handshake's PING, and the one sent at the pause. */
const FIRST_PING = 1;
const CANCELLED = "cancelled on this side";

/**
 * Moves the machine's guest over `transport` to a destination running
 * receiveMigration(). Resolves with the trace whatever happens: "completed"
 * (the guest runs there; this machine stays paused and must not be started
 * again), "abandoned" (it runs here as before) or "unknown" (see protocol.ts).
 */
export async function migrateOut(
  machine: Machine,
  transport: MessageTransport,
  options: SourceOptions,
): Promise<MigrationTrace> {
  return new SourceMigration(machine, transport, options).run();
}

class SourceMigration {
  private readonly trace: MigrationTrace;
  private readonly started = performance.now();
  private readonly convergence: Convergence;
  private readonly timeoutMs: number;
  private readonly batcher: PageBatcher;
  private readonly ramPages: number;
  private readonly wasRunning: boolean;
  private log: DirtyLogReader | null = null;
  private pausedAt: number | null = null;
  /** GO was sent: the guest may be running there. */
  private released = false;
  private phase: MigrationPhase = "connecting";
  private sliceStart = performance.now();
  /** When the dirty log was last collected (the dirty rate's time base). */
  private lastCollect = performance.now();
  private rttMs = 0;
  /** The user called it off (signal). */
  private cancelled = false;
  /** A cancel tells the destination and ends the wire, which wakes any wait. */
  private readonly cancel = () => {
    if (this.released || this.transport.closedReason !== null) return;
    this.cancelled = true;
    try {
      this.sendControl(MessageType.ABANDON, { reason: CANCELLED });
    } finally {
      this.transport.close(CANCELLED);
    }
  };
  private lastHarvestMs = 0;
  private readonly checksum = (bytes: Uint8Array) => this.options.codec.checksum32(bytes);

  constructor(
    private readonly machine: Machine,
    private readonly transport: MessageTransport,
    private readonly options: SourceOptions,
  ) {
    const policy = {
      downtimeLimitMs: options.downtimeLimitMs ?? DEFAULT_DOWNTIME_LIMIT_MS,
      maxRounds: options.maxRounds ?? DEFAULT_MAX_ROUNDS,
      autoConverge: options.autoConverge ?? true,
    };
    this.convergence = new Convergence(policy);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.ramPages = machine.core.memory.ramBytes / PAGE_SIZE;
    this.wasRunning = machine.runState === "running";
    const compress = options.compress ?? true;
    this.batcher = new PageBatcher(options.codec, compress, (message) =>
      this.transport.send(message),
    );
    this.trace = newTrace("source", transport.kind, machine.core.memory.ramBytes, {
      ...policy,
      verify: options.verify ?? false,
      codec: compress ? CODEC_NAMES[Codec.LZ] : CODEC_NAMES[Codec.NONE],
    });
  }

  async run(): Promise<MigrationTrace> {
    if (this.options.signal?.aborted) this.cancel();
    this.options.signal?.addEventListener("abort", this.cancel);
    try {
      if (this.machine.runState === "stopped") {
        throw new CalledOff("the guest has stopped: there is nothing to move");
      }
      await this.handshake();
      await this.measureRoundTrip();
      this.phase = "precopy";
      this.log = this.machine.dirtyLog.open();
      this.lastCollect = performance.now();
      await this.sendRoundZero();
      const carried = await this.iterate();
      await this.stopAndCopy(carried);
      await this.handOver();
      return this.finish("completed", null);
    } catch (error) {
      return this.fail(error);
    }
  }

  // ---- phases ----

  private async handshake(): Promise<void> {
    const leaf1 = this.machine.core.cpuid(1);
    this.sendControl(MessageType.HELLO, {
      protocol: PROTOCOL_NAME,
      version: PROTOCOL_VERSION,
      codecs: [this.trace.settings.codec],
      verify: this.trace.settings.verify,
      config: this.machine.config,
      components: this.machine.componentIds,
      cpu: { signature: leaf1.eax, features: { edx: leaf1.edx, ecx: leaf1.ecx } },
      journal: this.options.journal,
    });
    const welcome = await this.expect(MessageType.WELCOME);
    if (welcome.version !== PROTOCOL_VERSION) {
      throw new ProtocolError(`the destination speaks protocol version ${welcome.version}`);
    }
    if (welcome.codec !== this.trace.settings.codec) {
      throw new ProtocolError(
        `the destination chose codec "${welcome.codec}", which was not offered`,
      );
    }
  }

  /** One PING: the downtime estimate only needs its order of magnitude. */
  private async measureRoundTrip(): Promise<void> {
    const sent = performance.now();
    this.sendControl(MessageType.PING, { id: FIRST_PING });
    const pong = await this.expect(MessageType.PONG);
    if (pong.id !== FIRST_PING) throw new ProtocolError(`PONG ${pong.id} answers no PING`);
    this.rttMs = performance.now() - sent;
    this.trace.rttMs = round3(this.rttMs);
  }

  /** Every page neither zero nor ballooned (the destination starts with zeroed RAM). */
  private async sendRoundZero(): Promise<void> {
    const memory = this.machine.core.memory;
    const ballooned = this.machine.balloon?.ballooned ?? null;
    if (ballooned) this.trace.balloonedMap = ballooned.toBase64();
    const round = this.beginRound(0, this.ramPages);
    for (let first = 0; first < this.ramPages; first += CHUNK_PAGES) {
      const count = Math.min(CHUNK_PAGES, this.ramPages - first);
      memory.withView(first * PAGE_SIZE, count * PAGE_SIZE, (bytes) => {
        const hasData = this.options.codec.scanPages(bytes);
        for (let i = 0; i < count; i++) {
          if (ballooned?.has(first + i)) round.balloonedPages++;
          else if (hasData[i] === 0) round.zeroPages++;
          else {
            this.batcher.addData(first + i, bytes, i * PAGE_SIZE);
            this.roundSent.add(first + i);
          }
        }
      });
      await this.pace(first + count, this.ramPages);
    }
    await this.endRound(round, true);
  }

  /**
   * Sends the dirtied pages round after round until what is left would fit
   * the downtime limit (or the round limit is reached); returns what is left.
   */
  private async iterate(): Promise<PageBitmap> {
    for (;;) {
      const dirty = this.collectDirty();
      const rounds = this.trace.rounds;
      const last = rounds[rounds.length - 1]!;
      const perPage = this.wireBytesPerPage();
      const estimate = this.convergence.estimateDowntimeMs(
        dirty.count,
        perPage,
        rounds,
        this.rttMs,
      );
      last.estimatedDowntimeMs = round3(estimate);
      if (this.convergence.switchOver(dirty.count, estimate, last.round)) return dirty;
      const share = this.convergence.nextThrottle(this.machine.throttle, last, perPage, rounds);
      if (share !== null) this.machine.setThrottle(share);
      await this.sendDirty(last.round + 1, dirty, false);
    }
  }

  private async stopAndCopy(carried: PageBitmap): Promise<void> {
    this.phase = "stop-and-copy";
    if (this.machine.runState === "stopped") {
      throw new CalledOff(
        `the guest stopped (${this.machine.stopReason ?? "by itself"}) during the migration`,
      );
    }
    await this.machine.pause();
    this.pausedAt = performance.now();
    const final = this.collectDirty(false);
    final.addAll(carried);
    const last = this.trace.rounds[this.trace.rounds.length - 1]!;
    const switchover = {
      lastPagesQueuedMs: 0,
      stateQueuedMs: 0,
      lastPagesAckedMs: 0,
      readyMs: 0,
      goMs: 0,
      resumedMs: 0,
    };
    this.trace.switchover = switchover;
    await this.sendDirty(last.round + 1, final, true);
    switchover.lastPagesQueuedMs = this.sincePause();
    const state = JSON.stringify(this.machine.saveState());
    await this.sendState(state);
    switchover.stateQueuedMs = this.sincePause();
    this.report(0, 0);
    if (this.trace.settings.verify) {
      // Overlaps with the destination's restore: both sides are paused.
      const codec = this.options.codec;
      this.trace.verify = {
        ram: ramDigest(this.machine, codec),
        state: stateDigest(state, codec),
        match: false,
      };
    }
  }

  private async handOver(): Promise<void> {
    this.phase = "handover";
    const final = this.trace.rounds[this.trace.rounds.length - 1]!;
    const switchover = this.trace.switchover!;
    await this.expectAck(final);
    switchover.lastPagesAckedMs = this.sincePause();
    const ready = await this.expect(MessageType.READY);
    const readyAt = performance.now();
    switchover.readyMs = this.sincePause();
    const verify = this.trace.verify;
    if (verify) {
      verify.match = ready.ramHash === verify.ram && ready.stateHash === verify.state;
      if (!verify.match) {
        throw new CalledOff(
          `the destination's copy differs (RAM ${ready.ramHash} vs ${verify.ram}, ` +
            `state ${ready.stateHash} vs ${verify.state}): the guest stays here`,
        );
      }
    }
    this.released = true;
    this.sendControl(MessageType.GO, {
      pausedMs: performance.now() - this.pausedAt!,
      heldMs: performance.now() - readyAt,
    });
    switchover.goMs = this.sincePause();
    const resumed = await this.expect(MessageType.RESUMED);
    switchover.resumedMs = this.sincePause();
    this.trace.downtimeMs = round3(performance.now() - this.pausedAt!);
    this.trace.clockAdvanceMs = round3(resumed.clockAdvanceMs);
    this.trace.totalMs = round3(performance.now() - this.started);
    this.sendControl(MessageType.DONE, {
      downtimeMs: this.trace.downtimeMs,
      totalMs: this.trace.totalMs,
      rounds: this.trace.rounds.length,
      wireBytes: this.trace.totals.wireBytes + this.trace.totals.stateBytes,
      dataPages: this.trace.totals.dataPages,
      zeroPages: this.trace.totals.zeroPages,
      balloonedPages: this.trace.totals.balloonedPages,
      compressionRatio: this.trace.totals.compressionRatio,
    });
  }

  private sincePause(): number {
    return round3(performance.now() - this.pausedAt!);
  }

  // ---- rounds ----

  private beginRound(round: number, candidates: number): RoundTrace {
    const entry = newRound(round, round3(performance.now() - this.started), {
      candidatePages: candidates,
      unchangedPages: round === 0 ? 0 : this.ramPages - candidates,
      throttle: this.machine.throttle,
      harvestMs: this.lastHarvestMs,
      final: this.phase === "stop-and-copy",
    });
    this.trace.rounds.push(entry);
    this.batcher.round = round;
    this.roundStartTotals = { ...this.batcher.totals };
    this.roundSent = new PageBitmap(this.ramPages);
    this.options.onRound?.(round, this.roundSent);
    this.report(0, candidates);
    return entry;
  }

  private roundStartTotals = { dataPages: 0, zeroPages: 0, rawBytes: 0, wireBytes: 0 };
  /** The pages the current round has sent so far. */
  private roundSent = new PageBitmap(0);

  /** Flushes the round; a precopy round waits for the destination's acknowledgement (the final one's comes before READY). */
  private async endRound(entry: RoundTrace, acknowledged: boolean): Promise<void> {
    this.batcher.flush();
    const totals = this.batcher.totals;
    const start = this.roundStartTotals;
    entry.dataPages = totals.dataPages - start.dataPages;
    entry.zeroPages += totals.zeroPages - start.zeroPages;
    entry.rawBytes = totals.rawBytes - start.rawBytes;
    entry.wireBytes = totals.wireBytes - start.wireBytes;
    const sent = entry.dataPages + (entry.round === 0 ? 0 : entry.zeroPages);
    this.sendControl(MessageType.ROUND_END, { round: entry.round, pages: sent });
    if (acknowledged) await this.expectAck(entry);
    entry.durationMs = round3(performance.now() - this.started - entry.startMs);
    entry.sentMap = this.roundSent.toBase64();
    entry.bandwidthBytesPerSecond = Math.round(rate(entry.wireBytes, entry.durationMs));
    this.addTotals(entry);
  }

  private async expectAck(entry: RoundTrace): Promise<void> {
    const sent = entry.dataPages + (entry.round === 0 ? 0 : entry.zeroPages);
    const ack = await this.expect(MessageType.ROUND_ACK);
    if (ack.round !== entry.round || ack.pages !== sent) {
      throw new ProtocolError(
        `the destination acknowledged round ${ack.round} with ${ack.pages} pages; ` +
          `round ${entry.round} sent ${sent}`,
      );
    }
  }

  private addTotals(entry: RoundTrace): void {
    const t = this.trace.totals;
    t.dataPages += entry.dataPages;
    t.zeroPages += entry.zeroPages;
    t.balloonedPages += entry.balloonedPages;
    t.rawBytes += entry.rawBytes;
    t.wireBytes += entry.wireBytes;
    const pageWire = this.batcher.totals.wireBytes;
    t.compressionRatio = pageWire > 0 ? round3(this.batcher.totals.rawBytes / pageWire) : 1;
  }

  private async sendDirty(round: number, dirty: PageBitmap, final: boolean): Promise<void> {
    const entry = this.beginRound(round, dirty.count);
    entry.final = final;
    const pages: number[] = [];
    dirty.forEach((page) => pages.push(page));
    const memory = this.machine.core.memory;
    for (let i = 0; i < pages.length; i++) {
      const page = pages[i]!;
      memory.withView(page * PAGE_SIZE, PAGE_SIZE, (bytes) => {
        if (isZeroPage(bytes)) this.batcher.addZero(page);
        else this.batcher.addData(page, bytes, 0);
      });
      this.roundSent.add(page);
      if ((i + 1) % CHUNK_PAGES === 0) await this.pace(i + 1, pages.length);
    }
    await this.endRound(entry, !final);
  }

  /** The pages dirtied since the last call; `measure` credits them to the round just sent. */
  private collectDirty(measure = true): PageBitmap {
    const before = performance.now();
    const dirty = this.log!.collect();
    const now = performance.now();
    this.lastHarvestMs = round3(now - before);
    const last = this.trace.rounds[this.trace.rounds.length - 1];
    if (last && measure)
      last.dirtyPagesPerSecond = Math.round(rate(dirty.count, now - this.lastCollect));
    this.lastCollect = now;
    return dirty;
  }

  /** What a data page has cost on the wire so far (a raw page before any was sent). */
  private wireBytesPerPage(): number {
    const totals = this.batcher.totals;
    return totals.dataPages > 0 ? totals.wireBytes / totals.dataPages : PAGE_SIZE;
  }

  private async sendState(json: string): Promise<void> {
    const raw = new TextEncoder().encode(json);
    const parts = Math.max(1, Math.ceil(raw.length / STATE_CHUNK_BYTES));
    const compress = this.trace.settings.codec !== CODEC_NAMES[Codec.NONE];
    for (let part = 0; part < parts; part++) {
      const chunk = raw.subarray(part * STATE_CHUNK_BYTES, (part + 1) * STATE_CHUNK_BYTES);
      const packed = compress ? this.options.codec.compress(chunk) : null;
      const message = encodeStateChunk(
        {
          codec: packed ? Codec.LZ : Codec.NONE,
          part,
          parts,
          rawLength: chunk.length,
          data: packed ?? chunk,
        },
        this.checksum,
      );
      this.transport.send(message);
      this.trace.totals.stateBytes += message.length;
      await this.pace(part + 1, parts);
    }
  }

  // ---- pacing, messages, endings ----

  /**
   * Between chunks of work: stops at a message from the destination (only
   * ABANDON may come unasked), waits while the wire is full, and lets the
   * guest run once the engine has had its slice.
   */
  private async pace(done: number, total: number): Promise<void> {
    const early = this.transport.poll();
    if (early) this.unexpected(decodeMessage(early, this.checksum));
    if (this.transport.bufferedBytes > HIGH_WATER_BYTES) {
      await drainedWithin(this.transport, this.timeoutMs);
    }
    if (performance.now() - this.sliceStart > SLICE_MS) {
      this.report(done, total);
      await yieldToHost();
      this.sliceStart = performance.now();
    }
  }

  private report(done: number, total: number): void {
    if (!this.options.onProgress) return;
    // Without the page maps: progress goes out many times a second.
    const trace: MigrationTrace = {
      ...this.trace,
      balloonedMap: undefined,
      rounds: this.trace.rounds.map((round) => ({ ...round, sentMap: undefined })),
      totals: { ...this.trace.totals },
    };
    const current = trace.rounds[trace.rounds.length - 1];
    if (current && current.durationMs === 0) {
      // The round in flight: what it has sent so far.
      const totals = this.batcher.totals;
      current.dataPages = totals.dataPages - this.roundStartTotals.dataPages;
      current.wireBytes = totals.wireBytes - this.roundStartTotals.wireBytes;
    }
    this.options.onProgress({
      phase: this.phase,
      round: current?.round ?? 0,
      roundDone: done,
      roundTotal: total,
      trace,
    });
  }

  private snapshotTrace(): MigrationTrace {
    return structuredClone(this.trace);
  }

  private sendControl<T extends ControlType>(type: T, body: ControlBodies[T]): void {
    this.transport.send(encodeControl(type, body));
  }

  /** Waits for a message of `type`; ABANDON or anything else ends the migration. */
  private async expect<T extends ControlType>(type: T): Promise<ControlBodies[T]> {
    for (;;) {
      const decoded = decodeMessage(await this.transport.receive(this.timeoutMs), this.checksum);
      if (decoded.type === type) return (decoded as unknown as { body: ControlBodies[T] }).body;
      this.unexpected(decoded, type);
    }
  }

  /** A message that came unasked (ABANDON) or out of turn: either ends the migration. */
  private unexpected(decoded: Decoded, wanted?: ControlType): never {
    if (decoded.type === MessageType.ABANDON) {
      throw new CalledOff(`the destination called it off: ${decoded.body.reason}`, true);
    }
    const expecting = wanted ? ` while waiting for ${messageTypeName(wanted)}` : "";
    throw new ProtocolError(`the destination sent ${messageTypeName(decoded.type)}${expecting}`);
  }

  private finish(outcome: MigrationTrace["outcome"], reason: string | null): MigrationTrace {
    this.options.signal?.removeEventListener("abort", this.cancel);
    this.log?.close();
    this.log = null;
    this.machine.setThrottle(1);
    this.trace.outcome = outcome;
    this.trace.reason = reason;
    if (this.trace.totalMs === 0) this.trace.totalMs = round3(performance.now() - this.started);
    this.phase = "done";
    this.report(0, 0);
    this.transport.close(outcome === "completed" ? "the migration completed" : (reason ?? ""));
    return this.snapshotTrace();
  }

  private fail(error: unknown): MigrationTrace {
    const reason = this.cancelled ? CANCELLED : describeFailure(error, "destination");
    const peerSaysNotStarted = error instanceof CalledOff && error.byPeer;
    if (this.released && !peerSaysNotStarted) {
      // GO left; without RESUMED we cannot know whether it arrived. Running
      // here could run the guest twice: keep the paused copy.
      return this.finish(
        "unknown",
        `${reason}; the destination may be running the guest, so this copy stays paused`,
      );
    }
    if (!(error instanceof CalledOff && error.byPeer) && this.transport.closedReason === null) {
      try {
        this.sendControl(MessageType.ABANDON, { reason });
      } catch {
        // the wire is gone: the destination learns from that
      }
    }
    const trace = this.finish("abandoned", reason);
    if (this.pausedAt !== null && this.wasRunning) {
      // As after a successful move, the guest's clock counts the pause.
      this.machine.start({ downtimeNs: (performance.now() - this.pausedAt) * 1e6 });
    }
    return trace;
  }
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}
