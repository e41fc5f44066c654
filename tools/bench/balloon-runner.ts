// Times virtio-balloon inflate and deflate of 64 MiB in the booted Linux
// guest: from setting the target until the guest's `actual` says it is done.
// Everything between is real work: the guest's driver allocating pages and
// posting their numbers, our device zeroing and recording them.
import { Machine } from "../../src/machine/machine.ts";
import type { WasmSource } from "../../src/core/wasm-source.ts";
import { BOOT_CMDLINE, BOOT_RAM_BYTES, SHELL_PROMPT } from "./boot-runner.ts";

export const BALLOON_STEP_BYTES = 64 * 1024 * 1024;

export interface BalloonBenchOptions {
  wasm?: WasmSource;
  kernel: Uint8Array;
  initrd: Uint8Array;
  rounds: number;
  timeoutMs?: number;
}

export interface BalloonBenchResult {
  inflateMs: number[];
  deflateMs: number[];
  pages: number;
}

async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

export async function benchBalloon(options: BalloonBenchOptions): Promise<BalloonBenchResult> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  let text = "";
  const machine = await Machine.create({
    ramBytes: BOOT_RAM_BYTES,
    wasm: options.wasm,
    onSerialOutput: (bytes) => {
      text += String.fromCharCode(...bytes);
    },
  });
  machine.loadKernel(options.kernel, { cmdline: BOOT_CMDLINE, initrd: options.initrd });
  machine.start();
  try {
    await until(() => text.includes(SHELL_PROMPT), timeoutMs, "the shell prompt");
    const balloon = machine.balloon;
    if (!balloon) throw new Error("the machine has no balloon");
    const result: BalloonBenchResult = { inflateMs: [], deflateMs: [], pages: 0 };
    const settle = async (target: number, samples: number[], what: string) => {
      const started = performance.now();
      balloon.setTargetBytes(target);
      await until(() => balloon.info().actualBytes === target, timeoutMs, what);
      samples.push(performance.now() - started);
    };
    for (let round = 0; round < options.rounds; round++) {
      await settle(BOOT_RAM_BYTES - BALLOON_STEP_BYTES, result.inflateMs, "the inflate");
      result.pages = balloon.info().balloonedPages;
      await settle(BOOT_RAM_BYTES, result.deflateMs, "the deflate");
    }
    return result;
  } finally {
    await machine.pause();
  }
}
