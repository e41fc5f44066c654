// Small NASM programs written inline in a test, loaded into a fresh Core at
// 0000:8000 in real mode. Port 0xE9 is the debug console; a write to port
// 0xF4 asks the core to stop after that instruction, so a test can look at
// the machine mid-program and then call run() again to continue.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Core, type ExitReason } from "../../src/core/core.ts";
import type { CoreHost } from "../../src/core/core-host.ts";
import { assemble } from "./nasm.ts";

export const LOAD_AT = 0x8000;

/** Assembles NASM source text (nasm -f bin) through the shared nasm helper. */
export function assembleSource(source: string, name = "inline"): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), "hive86-src-"));
  try {
    const path = join(dir, `${name}.asm`);
    writeFileSync(path, source);
    return assemble(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface Guest {
  core: Core;
  /** Everything written to port 0xE9 so far. */
  output(): string;
  /** Values written to port 0xF4, in order (each one stopped the core). */
  stops: number[];
  /** Runs until the guest stops (port 0xF4), halts, or the budget is spent. */
  runToStop(budget?: number): ExitReason;
}

export interface GuestOptions {
  ramBytes?: number;
  host?: Partial<CoreHost>;
}

/** A fresh Core with `image` at 0000:8000, CS:IP pointing at it, real mode. */
export async function bootGuest(image: Uint8Array, options: GuestOptions = {}): Promise<Guest> {
  let text = "";
  const stops: number[] = [];
  const holder: { core?: Core } = {};
  const core = await Core.create({
    ramBytes: options.ramBytes ?? 2 * 1024 * 1024,
    host: {
      ...options.host,
      ioOut(port, size, value) {
        if (port === 0xe9) text += String.fromCharCode(value & 0xff);
        else if (port === 0xf4) {
          stops.push(value & 0xff);
          holder.core!.requestStop();
        } else options.host?.ioOut?.(port, size, value);
      },
    },
  });
  holder.core = core;
  core.memory.write(LOAD_AT, image);
  core.setRealModeSegment("cs", 0);
  core.setReg("eip", LOAD_AT);
  return {
    core,
    stops,
    output: () => text,
    runToStop(budget = 10_000_000) {
      let reason: ExitReason = "budget";
      let left = budget;
      while (reason === "budget" && left > 0) {
        const before = core.instructionCount();
        reason = core.run(Math.min(left, 1_000_000));
        left -= Math.max(1, core.instructionCount() - before);
      }
      return reason;
    },
  };
}
