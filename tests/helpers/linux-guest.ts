// Boots the project's Linux guest (build/guest, made by tools/guest/build.sh)
// in-process and talks to its serial console the way a person would: wait
// for text, type a command, read what it printed.
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Machine, type ClockMode, type MachineOptions } from "../../src/machine/machine.ts";
import type { MachineConfig } from "../../src/machine/machine-config.ts";

export const GUEST_DIR = fileURLToPath(new URL("../../build/guest/", import.meta.url));
export const SHELL_PROMPT = "hive86:/# ";

export function guestFiles(): { kernel: Uint8Array; initrd: Uint8Array } {
  const kernel = GUEST_DIR + "bzImage";
  const initrd = GUEST_DIR + "initramfs.cpio.gz";
  if (!existsSync(kernel) || !existsSync(initrd)) {
    throw new Error(
      `the Linux guest is not built: expected ${kernel} and ${initrd} ` +
        `(npm test builds it through tools/guest/build.sh; or run "npm run guest")`,
    );
  }
  return { kernel: readFileSync(kernel), initrd: readFileSync(initrd) };
}

// The console shows terminal control sequences (busybox asks for the cursor
// position); tests compare plain text.
const CONTROL_SEQUENCES = /\x1b\[[0-9;?]*[A-Za-z]|\r/g;

export interface BootOptions {
  ramBytes?: number;
  clock?: ClockMode;
  cmdline?: string;
  /** The RTC's wall time source (epoch ms). */
  wallTimeMs?: () => number;
  balloon?: MachineOptions["balloon"];
}

export class LinuxSession {
  private text = "";
  private waiters: Array<() => void> = [];
  private marker = 1000;

  private constructor(private current: Machine | null = null) {}

  get machine(): Machine {
    if (!this.current) throw new Error("this session has no machine yet");
    return this.current;
  }

  static async boot(options: BootOptions = {}): Promise<LinuxSession> {
    const { kernel, initrd } = guestFiles();
    let session: LinuxSession | null = null;
    const machine = await Machine.create({
      ramBytes: options.ramBytes ?? 128 * 1024 * 1024,
      clock: options.clock,
      wallTimeMs: options.wallTimeMs,
      balloon: options.balloon,
      onSerialOutput: (bytes) => session?.receive(bytes),
    });
    session = new LinuxSession(machine);
    machine.loadKernel(kernel, { cmdline: options.cmdline ?? "console=ttyS0", initrd });
    machine.start();
    return session;
  }

  /**
   * A session for a guest that will arrive by migration: its machine is made
   * (not started) for the offered configuration, its console wired here.
   */
  static forIncoming(): { session: LinuxSession; create(config: MachineConfig): Promise<Machine> } {
    const session = new LinuxSession();
    return {
      session,
      create: async (config) => {
        const machine = await Machine.fromConfig(config, {
          onSerialOutput: (bytes) => session.receive(bytes),
        });
        session.current = machine;
        return machine;
      },
    };
  }

  /** Everything the guest printed, control sequences removed. */
  get output(): string {
    return this.text;
  }

  private receive(bytes: Uint8Array): void {
    this.text += Buffer.from(bytes).toString("latin1").replace(CONTROL_SEQUENCES, "");
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /** Waits until the output after `from` matches; returns the match. */
  async waitFor(pattern: RegExp, timeoutMs: number, from = 0): Promise<RegExpExecArray> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const match = pattern.exec(this.text.slice(from));
      if (match) {
        match.index += from;
        return match;
      }
      const stop = this.machine.stopReason;
      if (stop) throw new Error(`the guest stopped (${stop}) while waiting for ${pattern}`);
      const left = deadline - performance.now();
      if (left <= 0) {
        throw new Error(
          `timed out after ${timeoutMs} ms waiting for ${pattern}; console tail:\n` +
            this.text.slice(-1500),
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /**
   * Waits for the first shell prompt, then widens the terminal so the line
   * editor never wraps a long command line (it cannot ask our console its size).
   */
  async waitForPrompt(timeoutMs: number): Promise<void> {
    await this.waitFor(new RegExp(escapeRegExp(SHELL_PROMPT)), timeoutMs);
    await this.run("stty cols 1000");
  }

  type(text: string): void {
    this.machine.sendSerial(Buffer.from(text, "latin1"));
  }

  /**
   * Runs a shell command and returns what it printed. The end marker is an
   * arithmetic expansion, so the echoed command line cannot match it.
   */
  async run(command: string, timeoutMs = 30_000): Promise<string> {
    const n = ++this.marker;
    const from = this.text.length;
    this.type(`${command}; echo "<<$((${n} - 1))|$?>>"\r`);
    const end = await this.waitFor(new RegExp(`<<${n - 1}\\|(\\d+)>>\\n`), timeoutMs, from);
    // The line editor may wrap a long echoed command; it ends with the marker's source text.
    const echoEnd = this.text.indexOf('|$?>>"\n', from);
    const echoed =
      echoEnd >= 0 && echoEnd < end.index ? echoEnd + 6 : this.text.indexOf("\n", from);
    const status = Number(end[1]);
    const output = this.text.slice(echoed + 1, end.index);
    if (status !== 0) throw new Error(`"${command}" exited with status ${status}:\n${output}`);
    await this.waitFor(new RegExp(escapeRegExp(SHELL_PROMPT)), timeoutMs, end.index);
    return output;
  }

  async close(): Promise<void> {
    await this.machine.pause();
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
