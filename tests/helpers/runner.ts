// `hive86 run` as a child process with piped stdio, and waiting for what it
// prints: the CLI tests drive the runner the way a person at a terminal would.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { guestFiles } from "./linux-guest.ts";

export const BIN = join(import.meta.dirname, "../../bin/hive86.mjs");

export function spawnRunner(...args: string[]) {
  guestFiles(); // fails with a clear message when the guest is not built
  const child = spawn(process.execPath, [BIN, "run", ...args], { stdio: ["pipe", "pipe", "pipe"] });
  const out = { stdout: "", stderr: "" };
  child.stdout.on("data", (chunk: Buffer) => (out.stdout += chunk.toString("latin1")));
  child.stderr.on("data", (chunk: Buffer) => (out.stderr += chunk.toString("latin1")));
  const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
  /** Waits until `stream` matches (from `from` on) and returns the match. */
  const waitIn = async (stream: "stdout" | "stderr", pattern: RegExp, ms: number, from = 0) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const match = pattern.exec(out[stream].slice(from));
      if (match) return match;
      if (Date.now() > deadline) throw new Error(`no ${pattern} in:\n${out[stream].slice(-2000)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  return { child, out, exited, waitIn };
}
