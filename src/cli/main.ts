// The headless runner: `hive86 run ...` boots a Machine in Node and reports
// how the guest stopped. See HELP_TEXT in args.ts for the contract.
import { closeSync, existsSync, openSync, readFileSync, writeSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { MAX_ROM_BYTES } from "../core/core.ts";
import { KernelImageError } from "../machine/boot/bzimage.ts";
import { MultibootImageError } from "../machine/boot/multiboot.ts";
import { loadSnapshot, snapshotConfig, SnapshotError } from "../migration/snapshot.ts";
import {
  Machine,
  type ClockMode,
  type MachineHostOptions,
  type StopReason,
} from "../machine/machine.ts";
import { receiveMigration } from "../migration/destination.ts";
import { PageCodec } from "../migration/page-codec.ts";
import { listenForMigration } from "../migration/transports/websocket-node.ts";
import { describeTrace } from "../migration/trace-summary.ts";
import {
  DEFAULT_APPEND,
  HELP_TEXT,
  parseArgs,
  UsageError,
  type ClockChoice,
  type RunCommand,
} from "./args.ts";
import { ConsoleInput } from "./console-input.ts";
import { monitorHelp, runMonitorLine } from "./monitor.ts";

const EXIT_USAGE = 2;
const EXIT_BAD_KERNEL = 3;
const EXIT_TRIPLE_FAULT = 4;
const EXIT_INTERNAL = 70;

/** Where `npm run guest` puts the default guest. */
export const DEFAULT_GUEST_DIR = fileURLToPath(new URL("../../build/guest/", import.meta.url));

/** Buffers output bytes; flushes on newline, when full and on demand. */
class ByteSink {
  private readonly fd: number;
  private readonly owned: boolean;
  private readonly buffer = new Uint8Array(4096);
  private used = 0;

  constructor(
    target: string,
    private readonly what: string,
  ) {
    this.owned = target !== "-";
    try {
      this.fd = this.owned ? openSync(target, "w") : 1;
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? String(error);
      throw new UsageError(`${what}: cannot open ${target}: ${reason}`);
    }
  }

  push(byte: number): void {
    this.buffer[this.used++] = byte;
    if (byte === 0x0a || this.used === this.buffer.length) this.flush();
  }

  write(bytes: Uint8Array): void {
    this.flush();
    let written = 0;
    while (written < bytes.length) {
      written += writeSync(this.fd, bytes, written, bytes.length - written);
    }
  }

  flush(): void {
    let written = 0;
    while (written < this.used) {
      written += writeSync(this.fd, this.buffer, written, this.used - written);
    }
    this.used = 0;
  }

  close(): void {
    this.flush();
    if (this.owned) closeSync(this.fd);
  }
}

function openSink(target: string, what: string): ByteSink | null {
  return target === "none" ? null : new ByteSink(target, what);
}

function readInput(path: string, option: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new UsageError(`${option}: cannot read ${path}: ${reason}`);
  }
}

function readRom(path: string): Uint8Array {
  const rom = readInput(path, "--bios");
  if (rom.length === 0 || rom.length % 4096 !== 0 || rom.length > MAX_ROM_BYTES) {
    throw new UsageError(
      `--bios: ${path} is ${rom.length} bytes; a ROM must be a multiple of 4 KiB up to 256 KiB`,
    );
  }
  return rom;
}

function clockMode(choice: ClockChoice): ClockMode {
  return choice.kind === "realtime" ? "realtime" : { nsPerInstruction: choice.nsPerInstruction };
}

/** Why a run ends: the guest stopped, the user quit, or the guest moved to another machine. */
type EndReason = StopReason | "quit" | "migrated";

function exitStatusOf(reason: EndReason, exitStatus: number | null): number {
  switch (reason) {
    case "debug-exit":
      return exitStatus!;
    case "triple-fault":
      return EXIT_TRIPLE_FAULT;
    default:
      return 0;
  }
}

interface Report {
  reason: EndReason;
  machine: Machine;
  instructions: number;
  seconds: number;
}

function printReport({ reason, machine, instructions, seconds }: Report): void {
  const exitStatus = machine.debugPorts.exitStatus;
  const report = {
    reason,
    ...(reason === "debug-exit" && exitStatus !== null ? { exitStatus } : {}),
    postCode: machine.debugPorts.lastPostCode,
    instructions,
    mips: seconds > 0 ? Number((instructions / seconds / 1e6).toFixed(2)) : 0,
    seconds: Number(seconds.toFixed(3)),
  };
  process.stderr.write(JSON.stringify(report) + "\n");
}

async function runRom(command: RunCommand, biosPath: string): Promise<number> {
  const rom = readRom(biosPath);
  const debugcon = openSink(command.debugcon, "--debugcon");
  try {
    const machine = await Machine.create({
      ramBytes: command.ramBytes,
      clock: clockMode(command.clock),
      onDebugconByte: (byte) => debugcon?.push(byte),
    });
    machine.loadBios(rom);
    const started = performance.now();
    const result = machine.runUntilStop({ maxInsns: command.maxInsns ?? Number.MAX_SAFE_INTEGER });
    debugcon?.flush();
    const seconds = (performance.now() - started) / 1000;
    printReport({ reason: result.reason, machine, instructions: result.instructions, seconds });
    return exitStatusOf(result.reason, machine.debugPorts.exitStatus);
  } finally {
    debugcon?.close();
  }
}

function kernelFiles(command: RunCommand): { kernel: string; initrd: string | null } {
  if (command.kernelPath !== null)
    return { kernel: command.kernelPath, initrd: command.initrdPath };
  const kernel = DEFAULT_GUEST_DIR + "bzImage";
  const initrd = DEFAULT_GUEST_DIR + "initramfs.cpio.gz";
  if (!existsSync(kernel) || !existsSync(initrd)) {
    throw new UsageError(
      `the default guest is not built (${kernel} missing): run "npm run guest" first, ` +
        `or give --kernel`,
    );
  }
  return { kernel, initrd: command.initrdPath ?? initrd };
}

/**
 * `--incoming`: waits for a guest from another runner and returns its machine,
 * running. A migration that fails is reported and the wait goes on.
 */
async function receiveGuest(
  incoming: NonNullable<RunCommand["incoming"]>,
  host: MachineHostOptions,
  say: (text: string) => void,
): Promise<Machine> {
  const codec = await PageCodec.create();
  const listener = await listenForMigration(incoming.host, incoming.port);
  try {
    for (;;) {
      say(`hive86: waiting for a guest at ${listener.url}\n`);
      const transport = await listener.accept();
      const result = await receiveMigration(transport, {
        codec,
        createMachine: (config) => Machine.fromConfig(config, host),
        accept: (config) =>
          incoming.ramBytes !== null && config.ramBytes !== incoming.ramBytes
            ? `this runner was started with --ram ${incoming.ramBytes / 2 ** 20}M; ` +
              `the guest has ${config.ramBytes / 2 ** 20} MiB`
            : null,
      });
      if (result.machine) {
        say(`hive86: the guest arrived: ${describeTrace(result.trace, result.summary)}\n`);
        return result.machine;
      }
      say(`hive86: the migration did not complete: ${result.trace.reason}\n`);
    }
  } finally {
    await listener.close();
  }
}

/** A booted kernel, a restored snapshot, or a guest that migrated here. */
async function obtainMachine(
  command: RunCommand,
  host: MachineHostOptions,
  say: (text: string) => void,
): Promise<Machine | number> {
  if (command.incoming) return receiveGuest(command.incoming, host, say);
  const files = command.restorePath === null ? kernelFiles(command) : null;
  const kernel = files ? readInput(files.kernel, "--kernel") : null;
  const initrd = files?.initrd ? readInput(files.initrd, "--initrd") : undefined;
  const snapshot = command.restorePath ? readInput(command.restorePath, "--restore") : null;
  let machine: Machine;
  try {
    // A snapshot says what machine it needs.
    machine = snapshot
      ? await Machine.fromConfig(snapshotConfig(snapshot), host)
      : await Machine.create({ ...host, ramBytes: command.ramBytes });
    if (snapshot) loadSnapshot(machine, snapshot);
    else machine.loadKernel(kernel!, { cmdline: command.append ?? DEFAULT_APPEND, initrd });
  } catch (error) {
    const rejected =
      error instanceof KernelImageError ||
      error instanceof MultibootImageError ||
      error instanceof SnapshotError;
    if (rejected) {
      process.stderr.write(`hive86: ${command.restorePath ?? files!.kernel}: ${error.message}\n`);
      return EXIT_BAD_KERNEL;
    }
    throw error;
  }
  return machine;
}

async function runKernel(command: RunCommand): Promise<number> {
  const serial = openSink(command.serial, "--serial");
  const debugcon = openSink(command.debugcon, "--debugcon");
  const interactive = command.serial === "-";
  const tty = interactive && process.stdin.isTTY === true;
  // On a raw terminal a bare "\n" does not return the carriage.
  const say = (text: string) => process.stderr.write(tty ? text.replace(/\n/g, "\r\n") : text);

  const obtained = await obtainMachine(
    command,
    {
      clock: clockMode(command.clock),
      onDebugconByte: (byte) => debugcon?.push(byte),
      onSerialOutput: (bytes) => serial?.write(bytes),
    },
    say,
  );
  if (typeof obtained === "number") return obtained;
  const machine = obtained;
  if (command.maxInsns !== null) machine.setInstructionLimit(command.maxInsns);

  const started = performance.now();
  let endRequested: ((reason: "quit" | "migrated") => void) | null = null;
  let ending = false;
  const ended = new Promise<"quit" | "migrated">(
    (resolve) =>
      (endRequested = (reason) => {
        ending = true;
        resolve(reason);
      }),
  );
  const context = {
    machine,
    startedMs: started,
    quit: () => endRequested!("quit"),
    migrated: () => endRequested!("migrated"),
  };
  const input = new ConsoleInput({
    toGuest: (bytes) => machine.sendSerial(bytes),
    monitorLine: (line) => {
      void runMonitorLine(line, context).then(
        (out) => out && say(out + (ending ? "\n" : "\n(hive86) ")),
      );
    },
    echo: (text) => process.stderr.write(text),
    quit: () => endRequested!("quit"),
    help: () => say("\nCtrl-A x quit, Ctrl-A c monitor, Ctrl-A a sends Ctrl-A\n"),
    monitorToggled: (active) =>
      say(active ? `\n[hive86 monitor]\n${monitorHelp()}\n(hive86) ` : "\n[guest console]\n"),
  });
  const onData = (chunk: Buffer) => input.feed(chunk);
  if (interactive) {
    if (tty) process.stdin.setRawMode(true);
    process.stdin.on("data", onData);
  }
  const onSignal = () => endRequested!("quit");
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  machine.start();
  const reason = (await Promise.race([machine.loop.stopped(), ended])) as EndReason;
  await machine.pause();
  const seconds = (performance.now() - started) / 1000;

  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  if (interactive) {
    process.stdin.off("data", onData);
    if (tty) process.stdin.setRawMode(false);
    process.stdin.pause();
  }
  serial?.close();
  debugcon?.close();
  if (tty) process.stderr.write("\r\n");
  printReport({ reason, machine, instructions: machine.core.instructionCount(), seconds });
  if ((reason as string) === "internal-error") {
    const failure = machine.loop.failure;
    process.stderr.write(`hive86: internal error: ${(failure as Error)?.stack ?? failure}\n`);
    return EXIT_INTERNAL;
  }
  return exitStatusOf(reason, machine.debugPorts.exitStatus);
}

export async function main(argv: string[]): Promise<number> {
  try {
    const command = parseArgs(argv);
    if (command.command === "help") {
      process.stdout.write(HELP_TEXT);
      return 0;
    }
    if (command.biosPath !== null) return await runRom(command, command.biosPath);
    return await runKernel(command);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`hive86: ${error.message}\n`);
      return EXIT_USAGE;
    }
    process.stderr.write(`hive86: internal error: ${(error as Error)?.stack ?? error}\n`);
    return EXIT_INTERNAL;
  }
}
