// The hive86 monitor: commands typed after Ctrl-A c in the headless runner.
// Each command is a small function over the running machine; the table is
// the help text.
import type { BalloonInfo } from "../devices/virtio/balloon/device.ts";
import type { Machine } from "../machine/machine.ts";
import { writeFileSync } from "node:fs";
import { captureSnapshot } from "../migration/snapshot.ts";
import { PageCodec } from "../migration/page-codec.ts";
import { migrateOut } from "../migration/source.ts";
import { describeTrace } from "../migration/trace-summary.ts";
import { connectMigration } from "../migration/transports/websocket-node.ts";
import { parseSize } from "./size.ts";

export interface MonitorContext {
  machine: Machine;
  /** Host time (performance.now) when the run started. */
  startedMs: number;
  quit(): void;
  /** The guest now runs elsewhere: the run ends. */
  migrated(): void;
}

let codec: Promise<PageCodec> | null = null;

/** `migrate URL [--verify] [--downtime MS] [--no-compress]` */
function migrateOptions(args: string[]) {
  const [url, ...rest] = args;
  if (!url || !/^wss?:\/\//.test(url))
    throw new Error("usage: migrate ws://HOST:PORT [--verify] [--downtime MS]");
  const options = {
    verify: false,
    downtimeLimitMs: undefined as number | undefined,
    compress: true,
  };
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === "--verify") options.verify = true;
    else if (rest[i] === "--no-compress") options.compress = false;
    else if (rest[i] === "--downtime") {
      const ms = Number(rest[++i]);
      if (!(ms > 0)) throw new Error(`--downtime needs milliseconds, got ${rest[i]}`);
      options.downtimeLimitMs = ms;
    } else throw new Error(`migrate: unknown option ${rest[i]}`);
  }
  // The listener's path is /migrate; a bare ws://HOST:PORT means it.
  const target = /^wss?:\/\/[^/]+\/?$/.test(url) ? url.replace(/\/?$/, "/migrate") : url;
  return { target, ...options };
}

interface MonitorCommand {
  usage: string;
  help: string;
  run(args: string[], context: MonitorContext): Promise<string> | string;
}

function formatNs(ns: number): string {
  return `${(ns / 1e9).toFixed(3)} s`;
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

function balloonOf(machine: Machine) {
  if (!machine.balloon) throw new Error("this machine has no balloon");
  return machine.balloon;
}

function describeBalloon(info: BalloonInfo): string {
  return [
    `target: ${mib(info.targetBytes)} for the guest`,
    `actual: ${mib(info.actualBytes)} (the guest's report; ${info.balloonedPages} pages held)`,
  ].join("\n");
}

function describeStats(info: BalloonInfo): string {
  const entries = Object.entries(info.stats);
  if (entries.length === 0) return "no statistics from the guest yet";
  const bytes = new Set(["freeMemory", "totalMemory", "availableMemory", "diskCaches"]);
  const age = info.statsAgeSeconds === null ? "" : ` (${info.statsAgeSeconds.toFixed(1)} s ago)`;
  return [
    `guest statistics${age}:`,
    ...entries.map(([name, value]) => `  ${name}: ${bytes.has(name) ? mib(value!) : value}`),
  ].join("\n");
}

const COMMANDS: Record<string, MonitorCommand> = {
  help: {
    usage: "help",
    help: "this list",
    run: () => monitorHelp(),
  },
  info: {
    usage: "info",
    help: "run state, guest time, instructions and speed",
    run: (_args, { machine, startedMs }) => {
      const hostSeconds = (performance.now() - startedMs) / 1000;
      const instructions = machine.core.liveInstructionCount();
      return [
        `state: ${machine.loop.current}`,
        `clock: ${machine.clock.kind}, guest time ${formatNs(machine.now())}`,
        `RAM: ${machine.core.memory.ramBytes / 2 ** 20} MiB`,
        `instructions: ${instructions} (${(instructions / hostSeconds / 1e6).toFixed(1)} MIPS ` +
          `over ${hostSeconds.toFixed(1)} s)`,
      ].join("\n");
    },
  },
  balloon: {
    usage: "balloon [SIZE]",
    help: "set the guest's memory target (e.g. 64M), or show the balloon",
    run: (args, { machine }) => {
      const balloon = balloonOf(machine);
      if (args.length > 0) {
        const bytes = parseSize(args[0]!);
        if (bytes === null) throw new Error(`not a size: ${args[0]} (try 64M)`);
        balloon.setTargetBytes(bytes);
      }
      return describeBalloon(balloon.info());
    },
  },
  stats: {
    usage: "stats [interval MS]",
    help: "the guest's memory statistics; or how often to ask (guest ms, 0 = never)",
    run: (args, { machine }) => {
      const balloon = balloonOf(machine);
      if (args[0] === "interval") {
        const ms = Number(args[1]);
        if (!Number.isFinite(ms) || ms < 0) throw new Error(`not an interval: ${args[1]}`);
        balloon.setStatsInterval(ms);
        return `statistics every ${ms} ms of guest time`;
      }
      return describeStats(balloon.info());
    },
  },
  save: {
    usage: "save FILE",
    help: "write a snapshot of the machine (resume it with hive86 run --restore FILE)",
    run: async (args, { machine }) => {
      if (!args[0]) throw new Error("usage: save FILE");
      const { bytes, summary } = await captureSnapshot(machine);
      writeFileSync(args[0], bytes);
      return (
        `saved ${mib(summary.bytes)} to ${args[0]}: ${summary.storedPages} pages stored, ` +
        `${summary.zeroPages} zero and ${summary.balloonedPages} ballooned pages left out`
      );
    },
  },
  migrate: {
    usage: "migrate ws://HOST:PORT [--verify] [--downtime MS] [--no-compress]",
    help: "move the running guest live to a runner started with --incoming ws://HOST:PORT",
    run: async (args, context) => {
      const options = migrateOptions(args);
      codec ??= PageCodec.create();
      const transport = await connectMigration(options.target);
      const trace = await migrateOut(context.machine, transport, {
        codec: await codec,
        verify: options.verify,
        compress: options.compress,
        downtimeLimitMs: options.downtimeLimitMs,
      });
      if (trace.outcome === "completed") {
        context.migrated();
        return `migrated to ${options.target}: ${describeTrace(trace)}`;
      }
      if (trace.outcome === "unknown") return `migration in doubt: ${trace.reason}`;
      return `migration abandoned, the guest runs on here: ${trace.reason}`;
    },
  },
  stop: {
    usage: "stop",
    help: "pause the guest (its clock stops too)",
    run: async (_args, { machine }) => {
      await machine.pause();
      return `paused at guest time ${formatNs(machine.now())}`;
    },
  },
  cont: {
    usage: "cont",
    help: "resume a paused guest",
    run: (_args, { machine }) => {
      machine.start();
      return "running";
    },
  },
  quit: {
    usage: "quit",
    help: "end the run",
    run: (_args, context) => {
      context.quit();
      return "";
    },
  },
};

export function monitorHelp(): string {
  const width = Math.max(...Object.values(COMMANDS).map((c) => c.usage.length));
  return Object.values(COMMANDS)
    .map((c) => `  ${c.usage.padEnd(width)}  ${c.help}`)
    .join("\n");
}

/** Runs one monitor line; returns what to print (errors are returned, not thrown). */
export async function runMonitorLine(line: string, context: MonitorContext): Promise<string> {
  const [name, ...args] = line.trim().split(/\s+/);
  const command = name ? COMMANDS[name] : undefined;
  if (!command) return `unknown command: ${name} (try "help")`;
  try {
    return await command.run(args, context);
  } catch (error) {
    return `${name}: ${error instanceof Error ? error.message : String(error)}`;
  }
}
