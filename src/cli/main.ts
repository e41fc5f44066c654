// The headless runner: `hive86 run --bios ROM ...` boots a Machine in Node
// and reports how the guest stopped. See HELP_TEXT in args.ts for the contract.
import { closeSync, openSync, readFileSync, writeSync } from "node:fs";
import { Machine, type RunResult } from "../machine/machine.ts";
import { HELP_TEXT, parseArgs, UsageError, type RunCommand } from "./args.ts";

const EXIT_USAGE = 2;
const EXIT_TRIPLE_FAULT = 4;
const EXIT_INTERNAL = 70;
const MAX_ROM_BYTES = 256 * 1024;

/** Buffers debug console bytes; flushes on newline and when full. */
class ByteSink {
  private readonly fd: number;
  private readonly owned: boolean;
  private readonly buffer = new Uint8Array(4096);
  private used = 0;

  constructor(target: string) {
    this.owned = target !== "-";
    this.fd = this.owned ? openSync(target, "w") : 1;
  }

  push(byte: number): void {
    this.buffer[this.used++] = byte;
    if (byte === 0x0a || this.used === this.buffer.length) this.flush();
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

function readRom(path: string): Uint8Array {
  let rom: Uint8Array;
  try {
    rom = readFileSync(path);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new UsageError(`--bios: cannot read ${path}: ${reason}`);
  }
  if (rom.length === 0 || rom.length % 4096 !== 0 || rom.length > MAX_ROM_BYTES) {
    throw new UsageError(
      `--bios: ${path} is ${rom.length} bytes; a ROM must be a multiple of 4 KiB up to 256 KiB`,
    );
  }
  return rom;
}

function openSink(target: string): ByteSink {
  try {
    return new ByteSink(target);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new UsageError(`--debugcon: cannot open ${target}: ${reason}`);
  }
}

function exitStatusOf(result: RunResult): number {
  switch (result.reason) {
    case "debug-exit":
      return result.exitStatus!;
    case "triple-fault":
      return EXIT_TRIPLE_FAULT;
    case "halt":
    case "max-insns":
      return 0;
  }
}

async function runCommand(command: RunCommand): Promise<number> {
  const rom = readRom(command.biosPath);
  const sink = openSink(command.debugcon);
  try {
    const machine = await Machine.create({
      ramBytes: command.ramBytes,
      onDebugconByte: (byte) => sink.push(byte),
    });
    machine.loadBios(rom);
    const started = performance.now();
    const result = machine.runUntilStop({ maxInsns: command.maxInsns });
    const seconds = (performance.now() - started) / 1000;
    sink.flush();
    const report = {
      reason: result.reason,
      ...(result.exitStatus !== undefined ? { exitStatus: result.exitStatus } : {}),
      postCode: machine.debugPorts.lastPostCode,
      instructions: result.instructions,
      mips: seconds > 0 ? Number((result.instructions / seconds / 1e6).toFixed(2)) : 0,
      seconds: Number(seconds.toFixed(3)),
    };
    process.stderr.write(JSON.stringify(report) + "\n");
    return exitStatusOf(result);
  } finally {
    sink.close();
  }
}

export async function main(argv: string[]): Promise<number> {
  try {
    const command = parseArgs(argv);
    if (command.command === "help") {
      process.stdout.write(HELP_TEXT);
      return 0;
    }
    return await runCommand(command);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`hive86: ${error.message}\n`);
      return EXIT_USAGE;
    }
    process.stderr.write(`hive86: internal error: ${(error as Error)?.stack ?? error}\n`);
    return EXIT_INTERNAL;
  }
}
