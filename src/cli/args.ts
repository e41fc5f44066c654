// Command-line parsing for the headless runner. Errors are UsageError so the
// entry point can print one line and exit with status 2.
import { parseSize } from "./size.ts";

export class UsageError extends Error {}

export type ClockChoice =
  { kind: "realtime" } | { kind: "deterministic"; nsPerInstruction: number };

export interface RunCommand {
  command: "run";
  /** A raw ROM image (firmware mode), or null when booting a kernel. */
  biosPath: string | null;
  /** A bzImage; null with no --bios means the project's default guest. */
  kernelPath: string | null;
  initrdPath: string | null;
  append: string | null;
  /** A snapshot file to resume instead of booting. */
  restorePath: string | null;
  /** ws://HOST:PORT to wait at for a migrating guest instead of booting; with --ram, its size is required. */
  incoming: { host: string; port: number; ramBytes: number | null } | null;
  ramBytes: number;
  /** Stop after about this many instructions; null = no limit. */
  maxInsns: number | null;
  /** Where debug console bytes go: a file path, "-" for stdout, or "none". */
  debugcon: string;
  /** Where COM1 output goes ("-" = stdout, with stdin as its input), a file, or "none". */
  serial: string;
  clock: ClockChoice;
}

export type Command = RunCommand | { command: "help" };

export const DEFAULT_RAM_BYTES = 128 * 1024 * 1024;
export const DEFAULT_ROM_MAX_INSNS = 10_000_000_000;
export const DEFAULT_APPEND = "console=ttyS0";
const DEFAULT_NS_PER_INSTRUCTION = 10;

// Each option takes one value.
const RUN_OPTIONS = [
  "--bios",
  "--kernel",
  "--initrd",
  "--append",
  "--ram",
  "--max-insns",
  "--debugcon",
  "--serial",
  "--clock",
  "--restore",
  "--incoming",
] as const;
type RunOption = (typeof RUN_OPTIONS)[number];

function isRunOption(name: string): name is RunOption {
  return (RUN_OPTIONS as readonly string[]).includes(name);
}

/** Splits "--name=value" / "--name value" pairs; rejects unknown names and missing values. */
function readOptions(args: string[]): Map<RunOption, string> {
  const values = new Map<RunOption, string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const equals = arg.indexOf("=");
    const name = equals >= 0 ? arg.slice(0, equals) : arg;
    if (!name.startsWith("--")) throw new UsageError(`unexpected argument: ${arg}`);
    if (!isRunOption(name)) throw new UsageError(`unknown option: ${name}`);
    let value: string | undefined;
    if (equals >= 0) value = arg.slice(equals + 1);
    else if (i + 1 < args.length && (name === "--append" || !args[i + 1]!.startsWith("--"))) {
      value = args[++i];
    }
    // An empty --append is a real choice (no command line); other options need a value.
    if (value === undefined || (value === "" && name !== "--append")) {
      throw new UsageError(`option ${name} needs a value`);
    }
    if (values.has(name)) throw new UsageError(`option ${name} given twice`);
    values.set(name, value);
  }
  return values;
}

function parseRamSize(text: string): number {
  const bytes = parseSize(text);
  if (bytes === null) throw new UsageError(`--ram: not a size: ${text} (try 16M, 128MiB, 1G)`);
  if (bytes % 4096 !== 0 || bytes < 1024 * 1024 || bytes > 2 * 1024 ** 3) {
    throw new UsageError(`--ram: ${text} must be a multiple of 4 KiB between 1M and 2G`);
  }
  return bytes;
}

function parseIncoming(text: string): { host: string; port: number } {
  const match = /^ws:\/\/(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})\/?$/.exec(text);
  const port = match ? Number(match[2]) : NaN;
  if (!match || port > 65535) {
    throw new UsageError(`--incoming: ${text} is not ws://HOST:PORT (e.g. ws://127.0.0.1:4444)`);
  }
  return { host: match[1]!.replace(/^\[|\]$/g, ""), port };
}

function parseCount(text: string): number {
  // Accept 1e9 as well as plain digits; the result must be a positive integer.
  const count = /^\d+(e\d+)?$/i.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(count) || count <= 0) {
    throw new UsageError(`--max-insns: not a positive integer: ${text}`);
  }
  return count;
}

function parseClock(text: string | undefined): ClockChoice {
  if (text === undefined || text === "realtime") return { kind: "realtime" };
  const match = /^deterministic(?::(\d+(?:\.\d+)?))?$/.exec(text);
  const ns = match ? Number(match[1] ?? DEFAULT_NS_PER_INSTRUCTION) : NaN;
  if (!match || !(ns > 0 && ns <= 1e6)) {
    throw new UsageError(
      `--clock: ${text} is not "realtime" or "deterministic[:NS]" (NS per instruction, > 0)`,
    );
  }
  return { kind: "deterministic", nsPerInstruction: ns };
}

export function parseArgs(argv: string[]): Command {
  const [command, ...rest] = argv;
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    return { command: "help" };
  }
  if (command !== "run") throw new UsageError(`unknown command: ${command} (try --help)`);
  if (rest.includes("--help") || rest.includes("-h")) return { command: "help" };
  const options = readOptions(rest);
  const biosPath = options.get("--bios") ?? null;
  const kernelPath = options.get("--kernel") ?? null;
  if (biosPath !== null && kernelPath !== null) {
    throw new UsageError("run: --bios and --kernel exclude each other");
  }
  if (biosPath !== null) {
    for (const name of ["--initrd", "--append", "--restore"] as const) {
      if (options.has(name)) throw new UsageError(`run: ${name} needs --kernel, not --bios`);
    }
  }
  const restorePath = options.get("--restore") ?? null;
  if (restorePath !== null) {
    for (const name of ["--kernel", "--initrd", "--append"] as const) {
      if (options.has(name)) throw new UsageError(`run: --restore resumes a snapshot; no ${name}`);
    }
  }
  const incoming = options.get("--incoming");
  if (incoming !== undefined) {
    for (const name of ["--bios", "--kernel", "--initrd", "--append", "--restore"] as const) {
      if (options.has(name)) throw new UsageError(`run: --incoming waits for a guest; no ${name}`);
    }
  }
  const ram = options.get("--ram");
  const maxInsns = options.get("--max-insns");
  return {
    command: "run",
    biosPath,
    kernelPath,
    initrdPath: options.get("--initrd") ?? null,
    append: options.get("--append") ?? null,
    restorePath,
    incoming:
      incoming === undefined
        ? null
        : { ...parseIncoming(incoming), ramBytes: ram === undefined ? null : parseRamSize(ram) },
    ramBytes: ram === undefined ? DEFAULT_RAM_BYTES : parseRamSize(ram),
    maxInsns:
      maxInsns !== undefined
        ? parseCount(maxInsns)
        : biosPath !== null
          ? DEFAULT_ROM_MAX_INSNS
          : null,
    debugcon: options.get("--debugcon") ?? (biosPath !== null ? "-" : "none"),
    serial: options.get("--serial") ?? "-",
    clock: parseClock(options.get("--clock")),
  };
}

export const HELP_TEXT = `hive86 — an x86 PC emulator (headless runner)

Usage:
  hive86 run                                   boot the default Linux guest
  hive86 run --kernel FILE [--initrd FILE] [--append CMDLINE] [options]
  hive86 run --restore SNAPSHOT [options]
  hive86 run --incoming ws://HOST:PORT [options]
  hive86 run --bios ROM [options]
  hive86 --help

Guest:
  --kernel FILE     a Linux bzImage, started through the 32-bit boot protocol.
                    Without --kernel and --bios: build/guest/bzImage and
                    build/guest/initramfs.cpio.gz (made by "npm run guest").
  --initrd FILE     initramfs / initrd image for --kernel
  --append CMDLINE  kernel command line (default "${DEFAULT_APPEND}")
  --restore FILE    resume a snapshot (written by the monitor's "save FILE" or
                    the page's Save); the machine is made as the snapshot says.
  --incoming ws://HOST:PORT
                    wait there for a guest migrating from another runner (its
                    monitor's "migrate ws://HOST:PORT"), then run it; with
                    --ram, a guest of another size is refused.
  --bios ROM        raw firmware image, a multiple of 4 KiB up to 256 KiB,
                    mapped to end at 1 MiB and below 4 GiB; the CPU starts at
                    the reset vector F000:FFF0.

Machine:
  --ram SIZE        guest RAM: bytes, or with K/M/G (binary) suffix, e.g. 16M,
                    128MiB, 1G. Default 128M; between 1M and 2G.
  --clock MODE      "realtime" (default: guest time is host time) or
                    "deterministic[:NS]": time advances NS ns per instruction
                    (default 10), so every run of the same guest is the same.
  --max-insns N     stop after about N instructions (default: 1e10 with --bios,
                    no limit with a kernel).

Input and output:
  --serial WHERE    COM1 (ttyS0): "-" (default) connects it to this terminal:
                    output to stdout, stdin to the guest (raw mode on a TTY);
                    a FILE receives the output; "none" drops it.
  --debugcon WHERE  bytes written to port 0xE9: "-" = stdout (default with
                    --bios), a FILE, or "none" (default with a kernel).

Console keys (on stdin, with --serial -):
  Ctrl-A x          quit           Ctrl-A c   the hive86 monitor (again: back)
  Ctrl-A h          help           Ctrl-A a   send Ctrl-A to the guest

The run ends when the guest writes V to port 0xF4 (isa-debug-exit), triple-
faults, asks for a reset, halts with interrupts off, reaches --max-insns, or
you quit. One JSON line then goes to stderr: {"reason", "exitStatus"?,
"postCode", "instructions", "mips", "seconds"}.

Exit status:
  (V << 1) | 1  the guest wrote V to port 0xF4 (the OS keeps the low 8 bits)
  0             halted, reset, quit, or reached --max-insns
  2             usage error: unknown option, missing value, unreadable file
  3             the kernel image or snapshot was rejected (not a bzImage, truncated, ...)
  4             triple fault
  70            internal error in the emulator
`;
