// The receiving side of a live migration (the protocol is in protocol.ts):
// checks the offered machine, builds an empty one like it, fills it with the
// pages and the state, and runs it only when the source says GO. Anything
// wrong before that drops what was received and tells the source why.
import type { Machine } from "../machine/machine.ts";
import {
  configMismatch,
  MAX_RAM_BYTES,
  parseMachineConfig,
  type MachineConfig,
} from "../machine/machine-config.ts";
import { ramDigest, stateDigest } from "./digest.ts";
import { CalledOff, describeFailure } from "./failure.ts";
import { IncomingMachine } from "./incoming-machine.ts";
import type { PageCodec } from "./page-codec.ts";
import {
  Codec,
  CODEC_NAMES,
  decodeMessage,
  encodeControl,
  MessageType,
  messageTypeName,
  PROTOCOL_VERSION,
  ProtocolError,
  type ControlBodies,
  type ControlType,
  type Done,
  type Hello,
  type StateChunk,
} from "./protocol.ts";
import { newRound, newTrace, type MigrationTrace, type RoundTrace } from "./trace.ts";
import type { MessageTransport } from "./transport.ts";

export interface DestinationOptions {
  /** Builds the (not yet running) machine for the offered configuration, with this host's callbacks. */
  createMachine(config: MachineConfig): Promise<Machine>;
  /** This host's own conditions: a reason to refuse the offered machine, or null. */
  accept?(config: MachineConfig): string | null;
  /** Offered machines with more RAM are refused (default: the core's limit). */
  maxRamBytes?: number;
  codec: PageCodec;
  /** The longest silence from the source (ms). */
  timeoutMs?: number;
  onProgress?: (progress: IncomingProgress) => void;
}

export interface IncomingProgress {
  phase: "offered" | "receiving" | "restoring" | "running" | "done";
  round: number;
  pages: number;
  wireBytes: number;
}

export interface IncomingResult {
  /** The guest, running; null when the migration did not complete. */
  machine: Machine | null;
  trace: MigrationTrace;
  /** The source's own figures, sent after the guest resumed here. */
  summary: Done | null;
  /** What the source's host sent along of the guest's journey (HELLO's journal). */
  journal: Record<string, unknown> | null;
}

const DEFAULT_TIMEOUT_MS = 15_000;

/** Waits for one guest on `transport` and, when all goes well, runs it. */
export async function receiveMigration(
  transport: MessageTransport,
  options: DestinationOptions,
): Promise<IncomingResult> {
  return new DestinationMigration(transport, options).run();
}

class DestinationMigration {
  private readonly started = performance.now();
  private readonly timeoutMs: number;
  private readonly trace: MigrationTrace;
  private incoming: IncomingMachine | null = null;
  private round: RoundTrace | null = null;
  private roundOpen = false;
  private roundPages = 0;
  private readySent = false;
  private readySentAt = 0;
  private stateParts: StateChunk[] = [];
  private verify = false;
  private running = false;
  private summary: Done | null = null;
  private journal: Record<string, unknown> | null = null;
  private readonly checksum = (bytes: Uint8Array) => this.options.codec.checksum32(bytes);

  constructor(
    private readonly transport: MessageTransport,
    private readonly options: DestinationOptions,
  ) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    // What the source chose arrives in HELLO.
    this.trace = newTrace("destination", transport.kind, 0, {
      downtimeLimitMs: 0,
      maxRounds: 0,
      autoConverge: false,
      verify: false,
      codec: "",
    });
  }

  async run(): Promise<IncomingResult> {
    try {
      await this.welcome(await this.expectHello());
      while (!this.running) await this.handle(await this.transport.receive(this.timeoutMs));
      await this.awaitSummary();
      return this.finish("completed", null);
    } catch (error) {
      return this.fail(error);
    }
  }

  private async expectHello(): Promise<Hello> {
    const decoded = decodeMessage(await this.transport.receive(this.timeoutMs), this.checksum);
    if (decoded.type !== MessageType.HELLO) {
      throw new ProtocolError(`the first message was ${messageTypeName(decoded.type)}, not HELLO`);
    }
    return decoded.body;
  }

  /** Checks the offer, builds the machine, says which codec to use. */
  private async welcome(hello: Hello): Promise<void> {
    if (hello.version !== PROTOCOL_VERSION) {
      throw new CalledOff(
        `the source speaks migration protocol version ${hello.version}; this hive86 speaks ${PROTOCOL_VERSION}`,
      );
    }
    const codec = hello.codecs.find(
      (name) => name === CODEC_NAMES[Codec.LZ] || name === CODEC_NAMES[Codec.NONE],
    );
    if (!codec)
      throw new CalledOff(`none of the source's codecs (${hello.codecs.join(", ")}) is known here`);
    let config: MachineConfig;
    try {
      config = parseMachineConfig(hello.config);
    } catch (error) {
      throw new CalledOff(`the offered machine is malformed: ${(error as Error).message}`);
    }
    const maxRam = this.options.maxRamBytes ?? MAX_RAM_BYTES;
    if (config.ramBytes > maxRam) {
      throw new CalledOff(
        `the guest has ${config.ramBytes / 2 ** 20} MiB of RAM; this host takes at most ${maxRam / 2 ** 20} MiB`,
      );
    }
    const refusal = this.options.accept?.(config);
    if (refusal) throw new CalledOff(refusal);
    const machine = await this.options.createMachine(config);
    const mismatch = configMismatch(config, machine.config) ?? componentMismatch(hello, machine);
    if (mismatch) throw new CalledOff(mismatch);
    this.incoming = new IncomingMachine(machine, this.options.codec);
    this.verify = hello.verify;
    this.journal = hello.journal ?? null;
    this.trace.ramBytes = config.ramBytes;
    this.trace.settings.codec = codec;
    this.trace.settings.verify = hello.verify;
    this.report("offered");
    this.send(MessageType.WELCOME, { version: PROTOCOL_VERSION, codec });
  }

  private async handle(message: Uint8Array): Promise<void> {
    const decoded = decodeMessage(message, this.checksum);
    switch (decoded.type) {
      case MessageType.PING:
        this.send(MessageType.PONG, { id: decoded.body.id });
        return;
      case MessageType.PAGES: {
        if (this.stateParts.length > 0) throw new ProtocolError("PAGES after the state began");
        const batch = decoded.batch;
        if (!this.roundOpen) this.beginRound(batch.round);
        else if (batch.round !== this.round!.round) {
          throw new ProtocolError(
            `PAGES of round ${batch.round} during round ${this.round!.round}`,
          );
        }
        const pages = this.incoming!.applyPages(batch);
        this.roundPages += pages;
        const round = this.round!;
        const dataPages = batch.rawLength / 4096;
        round.dataPages += dataPages;
        round.zeroPages += pages - dataPages;
        round.rawBytes += batch.rawLength;
        round.wireBytes += message.length;
        this.report("receiving");
        return;
      }
      case MessageType.ROUND_END: {
        const { round, pages } = decoded.body;
        if (this.stateParts.length > 0) throw new ProtocolError("ROUND_END after the state began");
        if (!this.roundOpen)
          this.beginRound(round); // a round with nothing to send
        else if (round !== this.round!.round) {
          throw new ProtocolError(`ROUND_END for round ${round} during round ${this.round!.round}`);
        }
        if (pages !== this.roundPages) {
          throw new ProtocolError(
            `round ${round} announced ${pages} pages; ${this.roundPages} arrived`,
          );
        }
        this.endRound();
        this.send(MessageType.ROUND_ACK, { round, pages });
        return;
      }
      case MessageType.STATE:
        // The last pages must all be in (their count checked) before the state.
        if (this.roundOpen) {
          throw new ProtocolError(`STATE before round ${this.round!.round} ended`);
        }
        this.trace.totals.stateBytes += message.length;
        await this.takeStateChunk(decoded.chunk);
        return;
      case MessageType.GO: {
        if (!this.readySent) throw new ProtocolError("GO before READY");
        // READY went out and GO came back: that round trip, less what the source
        // held READY for, is two transits; GO took one.
        const roundTrip = performance.now() - this.readySentAt - decoded.body.heldMs;
        const downtimeMs = decoded.body.pausedMs + Math.max(0, roundTrip / 2);
        this.incoming!.start(downtimeMs * 1e6);
        this.running = true;
        this.trace.clockAdvanceMs = Math.round(downtimeMs * 1000) / 1000;
        this.send(MessageType.RESUMED, { clockAdvanceMs: downtimeMs });
        this.report("running");
        return;
      }
      case MessageType.ABANDON:
        throw new CalledOff(`the source called it off: ${decoded.body.reason}`, true);
      default:
        throw new ProtocolError(`the source sent ${messageTypeName(decoded.type)} mid-migration`);
    }
  }

  private beginRound(round: number): void {
    const previous = this.round?.round ?? -1;
    if (round <= previous) throw new ProtocolError(`round ${round} after round ${previous}`);
    this.round = newRound(round, performance.now() - this.started);
    this.roundPages = 0;
    this.roundOpen = true;
  }

  private endRound(): void {
    const round = this.round!;
    this.roundOpen = false;
    round.durationMs = performance.now() - this.started - round.startMs;
    round.candidatePages = this.roundPages;
    this.trace.rounds.push(round);
    const totals = this.trace.totals;
    totals.dataPages += round.dataPages;
    totals.zeroPages += round.zeroPages;
    totals.rawBytes += round.rawBytes;
    totals.wireBytes += round.wireBytes;
    totals.compressionRatio = totals.wireBytes > 0 ? totals.rawBytes / totals.wireBytes : 1;
  }

  private async takeStateChunk(chunk: StateChunk): Promise<void> {
    if (this.readySent) throw new ProtocolError("STATE after READY");
    // The round before the state was the stop-and-copy.
    const last = this.trace.rounds[this.trace.rounds.length - 1];
    if (last && this.stateParts.length === 0) last.final = true;
    const expected = this.stateParts.length;
    if (chunk.part !== expected || (expected > 0 && chunk.parts !== this.stateParts[0]!.parts)) {
      throw new ProtocolError(
        `STATE part ${chunk.part} of ${chunk.parts} where part ${expected} was due`,
      );
    }
    this.stateParts.push(chunk);
    if (this.stateParts.length < chunk.parts) return;
    this.report("restoring");
    const json = this.decodeState();
    let state: unknown;
    try {
      state = JSON.parse(json);
    } catch {
      throw new ProtocolError("the machine state is not JSON");
    }
    try {
      this.incoming!.restore(state);
    } catch (error) {
      if (error instanceof ProtocolError) throw error;
      throw new CalledOff(`the machine state is refused: ${(error as Error).message}`);
    }
    const ready: ControlBodies[typeof MessageType.READY] = {};
    if (this.verify) {
      const machine = this.incoming!.machine;
      ready.ramHash = ramDigest(machine, this.options.codec);
      ready.stateHash = stateDigest(JSON.stringify(machine.saveState()), this.options.codec);
      this.trace.verify = { ram: ready.ramHash, state: ready.stateHash, match: true };
    }
    this.readySent = true;
    this.readySentAt = performance.now();
    this.send(MessageType.READY, ready);
  }

  private decodeState(): string {
    const parts = this.stateParts.map((chunk) => {
      if (chunk.codec === Codec.NONE) return chunk.data;
      try {
        return this.options.codec.decompress(chunk.data, chunk.rawLength);
      } catch (error) {
        throw new ProtocolError(`the machine state does not decode: ${(error as Error).message}`);
      }
    });
    const bytes = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
    let at = 0;
    for (const part of parts) {
      bytes.set(part, at);
      at += part.length;
    }
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      throw new ProtocolError("the machine state is not UTF-8 text");
    }
  }

  /** The source's closing figures; the guest already runs, so their loss costs nothing. */
  private async awaitSummary(): Promise<void> {
    try {
      const decoded = decodeMessage(await this.transport.receive(this.timeoutMs), this.checksum);
      if (decoded.type === MessageType.DONE) {
        this.summary = decoded.body;
        this.trace.downtimeMs = decoded.body.downtimeMs;
      }
    } catch {
      // closed or silent: the guest is ours either way
    }
  }

  private send<T extends ControlType>(type: T, body: ControlBodies[T]): void {
    this.transport.send(encodeControl(type, body));
  }

  private report(phase: IncomingProgress["phase"]): void {
    this.options.onProgress?.({
      phase,
      round: this.round?.round ?? 0,
      pages: this.trace.totals.dataPages + (this.roundOpen ? this.round!.dataPages : 0),
      wireBytes: this.trace.totals.wireBytes + (this.roundOpen ? this.round!.wireBytes : 0),
    });
  }

  private finish(outcome: MigrationTrace["outcome"], reason: string | null): IncomingResult {
    this.trace.outcome = outcome;
    this.trace.reason = reason;
    this.trace.totalMs = Math.round((performance.now() - this.started) * 1000) / 1000;
    this.transport.close(outcome === "completed" ? "the migration completed" : (reason ?? ""));
    this.report("done");
    return {
      machine: outcome === "completed" ? this.incoming!.machine : null,
      trace: structuredClone(this.trace),
      summary: this.summary,
      journal: outcome === "completed" ? this.journal : null,
    };
  }

  private fail(error: unknown): IncomingResult {
    if (this.running) return this.finish("completed", null); // the guest is ours already
    const reason = describeFailure(error, "source");
    const told = error instanceof CalledOff && error.byPeer;
    if (!told && this.transport.closedReason === null) {
      try {
        this.send(MessageType.ABANDON, { reason });
      } catch {
        // the wire is gone
      }
    }
    this.incoming = null; // dropped: it never ran
    return this.finish("abandoned", reason);
  }
}

function componentMismatch(hello: Hello, machine: Machine): string | null {
  const ours = machine.componentIds;
  const missing = hello.components.filter((id) => !ours.includes(id));
  if (missing.length > 0) {
    return `the guest's machine has ${missing.join(", ")}, which this hive86 does not emulate`;
  }
  const extra = ours.filter((id) => !hello.components.includes(id));
  if (extra.length > 0)
    return `this machine would add ${extra.join(", ")}, which the guest's lacks`;
  const leaf1 = machine.core.cpuid(1);
  const lacking =
    (hello.cpu.features.edx & ~leaf1.edx) >>> 0 || (hello.cpu.features.ecx & ~leaf1.ecx) >>> 0;
  if (lacking) {
    return (
      `the guest's CPU has features this core does not emulate ` +
      `(CPUID 1 EDX ${hex(hello.cpu.features.edx)} / ECX ${hex(hello.cpu.features.ecx)}, ` +
      `here ${hex(leaf1.edx)} / ${hex(leaf1.ecx)})`
    );
  }
  return null;
}

function hex(value: number): string {
  return "0x" + (value >>> 0).toString(16);
}
