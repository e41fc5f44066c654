// Boots the project's Linux guest on a Machine with the realtime clock and
// times it from start() until the shell prompt shows on COM1. Shared by the
// Node side of `npm run bench` and the browser worker, so both boot the same
// way.
import { Machine } from "../../src/machine/machine.ts";
import type { WasmSource } from "../../src/core/wasm-source.ts";

export const SHELL_PROMPT = "hive86:/# ";
export const BOOT_CMDLINE = "console=ttyS0";
export const BOOT_RAM_BYTES = 128 * 1024 * 1024;
/**
 * Console lines that split the boot into phases: kernel start, initramfs
 * unpacking (gunzip: hot, CPU-bound), drivers, then init and busybox.
 */
export const BOOT_MILESTONES = [
  "Unpacking initramfs...",
  "Freeing initrd memory",
  "Run /init as init process",
];

// busybox asks the terminal for the cursor position around the prompt.
const CONTROL_SEQUENCES = /\x1b\[[0-9;?]*[A-Za-z]|\r/g;

export interface BootOptions {
  wasm?: WasmSource;
  kernel: Uint8Array;
  initrd: Uint8Array;
  cmdline?: string;
  ramBytes?: number;
  timeoutMs?: number;
}

export interface BootResult {
  /** Wall seconds from start() to the prompt on the console. */
  seconds: number;
  /** Wall seconds from start() to the first byte on COM1. */
  firstOutputSeconds: number;
  /** Instructions retired by the time the prompt showed. */
  instructions: number;
  /** instructions / seconds: halted time counts, as it does for the person waiting. */
  mips: number;
  /** Wall seconds spent inside Machine.step() (running the guest, not sleeping in HLT). */
  busySeconds: number;
  /** Bytes the guest wrote to COM1 up to the prompt. */
  outputBytes: number;
  /** Wall seconds from start() to each of BOOT_MILESTONES on the console. */
  milestones: Record<string, number>;
}

export async function bootToPrompt(options: BootOptions): Promise<BootResult> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  let text = "";
  let outputBytes = 0;
  let startedAt = 0;
  let firstAt = -1;
  let promptAt = -1;
  let promptInstructions = 0;
  let busyMs = 0;
  let stepStartedAt = 0;
  let busyAtPrompt = 0;
  const milestoneAt = new Map<string, number>();
  let onPrompt = () => {};
  const prompt = new Promise<void>((resolve) => (onPrompt = resolve));

  const machine = await Machine.create({
    ramBytes: options.ramBytes ?? BOOT_RAM_BYTES,
    wasm: options.wasm,
    onSerialOutput: (bytes) => {
      if (promptAt >= 0) return;
      const now = performance.now();
      if (firstAt < 0) firstAt = now;
      outputBytes += bytes.length;
      const seen = text.length;
      text += latin1(bytes);
      for (const line of BOOT_MILESTONES) {
        if (!milestoneAt.has(line) && text.includes(line, Math.max(0, seen - line.length))) {
          milestoneAt.set(line, now);
        }
      }
      // Only the tail can hold a prompt that was not there before.
      const tail = text.slice(-(SHELL_PROMPT.length + 64)).replace(CONTROL_SEQUENCES, "");
      if (tail.includes(SHELL_PROMPT)) {
        promptAt = now;
        promptInstructions = machine.core.instructionCount();
        busyAtPrompt = busyMs + (now - stepStartedAt);
        onPrompt();
      }
    },
  });
  machine.loadKernel(options.kernel, {
    cmdline: options.cmdline ?? BOOT_CMDLINE,
    initrd: options.initrd,
  });

  // Time in step() is time the guest ran; the rest the run loop slept in HLT or yielded.
  const step = machine.step.bind(machine);
  machine.step = (maxInstructions) => {
    stepStartedAt = performance.now();
    try {
      return step(maxInstructions);
    } finally {
      busyMs += performance.now() - stepStartedAt;
    }
  };

  let timer: ReturnType<typeof setTimeout> | undefined;
  const failure = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(
            `boot: no prompt after ${timeoutMs} ms (${machine.core.liveInstructionCount()} ` +
              `instructions); console tail:\n${text.slice(-1500)}`,
          ),
        ),
      timeoutMs,
    );
    void machine.loop.stopped().then((reason) => {
      reject(new Error(`boot: the guest stopped (${reason}); console tail:\n${text.slice(-1500)}`));
    });
  });

  startedAt = performance.now();
  machine.start();
  try {
    await Promise.race([prompt, failure]);
  } finally {
    clearTimeout(timer);
    await machine.pause();
  }
  const seconds = (promptAt - startedAt) / 1000;
  return {
    seconds,
    firstOutputSeconds: (firstAt - startedAt) / 1000,
    instructions: promptInstructions,
    mips: promptInstructions / seconds / 1e6,
    busySeconds: busyAtPrompt / 1000,
    outputBytes,
    milestones: Object.fromEntries(
      [...milestoneAt].map(([line, at]) => [line, (at - startedAt) / 1000]),
    ),
  };
}

function latin1(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 4096) {
    s += String.fromCharCode(...bytes.subarray(i, i + 4096));
  }
  return s;
}
