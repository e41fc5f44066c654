// Command-line parsing for the headless runner. Errors are UsageError so the
// entry point can print one line and exit with status 2.
import { parseSize } from "./size.ts";

export class UsageError extends Error {}

export interface RunCommand {
  command: "run";
  biosPath: string;
  ramBytes: number;
  maxInsns: number;
  /** Where debug console bytes go: a file path, or "-" for stdout. */
  debugcon: string;
}

export type Command = RunCommand | { command: "help" };

export const DEFAULT_RAM_BYTES = 128 * 1024 * 1024;
export const DEFAULT_MAX_INSNS = 10_000_000_000;

// Each option takes one value. Later: --kernel, --initrd, --append, --serial.
const RUN_OPTIONS = ["--bios", "--ram", "--max-insns", "--debugcon"] as const;
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
    else if (i + 1 < args.length && !args[i + 1]!.startsWith("--")) value = args[++i];
    if (value === undefined || value === "") throw new UsageError(`option ${name} needs a value`);
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

function parseCount(text: string): number {
  // Accept 1e9 as well as plain digits; the result must be a positive integer.
  const count = /^\d+(e\d+)?$/i.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(count) || count <= 0) {
    throw new UsageError(`--max-insns: not a positive integer: ${text}`);
  }
  return count;
}

export function parseArgs(argv: string[]): Command {
  const [command, ...rest] = argv;
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    return { command: "help" };
  }
  if (command !== "run") throw new UsageError(`unknown command: ${command} (try --help)`);
  if (rest.includes("--help") || rest.includes("-h")) return { command: "help" };
  const options = readOptions(rest);
  const biosPath = options.get("--bios");
  if (biosPath === undefined) throw new UsageError("run: --bios ROM is required");
  const ram = options.get("--ram");
  const maxInsns = options.get("--max-insns");
  return {
    command: "run",
    biosPath,
    ramBytes: ram === undefined ? DEFAULT_RAM_BYTES : parseRamSize(ram),
    maxInsns: maxInsns === undefined ? DEFAULT_MAX_INSNS : parseCount(maxInsns),
    debugcon: options.get("--debugcon") ?? "-",
  };
}

export const HELP_TEXT = `hive86 — an x86 PC emulator (headless runner)

Usage:
  hive86 run --bios ROM [--ram SIZE] [--max-insns N] [--debugcon FILE|-]
  hive86 --help

Options:
  --bios ROM        raw firmware image, a multiple of 4 KiB up to 256 KiB
                    (64 KiB and 128 KiB are typical); mapped to end at 1 MiB
                    and below 4 GiB. The CPU starts at the reset vector F000:FFF0.
  --ram SIZE        guest RAM: bytes, or with K/M/G (binary) suffix, e.g. 16M,
                    128MiB, 1G. Default 128M; between 1M and 2G.
  --max-insns N     stop after about N instructions (default 1e10).
  --debugcon FILE   where bytes written to port 0xE9 go; "-" (default) is stdout.

The guest stops when it writes V to port 0xF4 (isa-debug-exit), triple-faults,
halts with nothing to wake it, or reaches --max-insns. One JSON line then goes
to stderr: {"reason", "exitStatus"?, "postCode", "instructions", "mips", "seconds"}.

Exit status:
  (V << 1) | 1  the guest wrote V to port 0xF4 (the OS keeps the low 8 bits)
  0             halted, or reached --max-insns
  2             usage error: unknown option, missing value, unreadable file
  4             triple fault
  70            internal error in the emulator
`;
