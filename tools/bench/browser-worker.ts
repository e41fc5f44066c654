// The browser side of `npm run bench`: a module Web Worker that fetches the
// core and its inputs from the page's origin, runs the same benchCpuMix() or
// bootToPrompt() as Node, and posts the result (or the error) back.
import { bootToPrompt } from "./boot-runner.ts";
import { benchCpuMix } from "./cpu-mix-runner.ts";

type StartMessage =
  | { task: "cpu"; runs: number; warmup: number }
  | { task: "boot"; cmdline: string; ramBytes: number; timeoutMs: number };

async function fetchBytes(path: string): Promise<Uint8Array<ArrayBuffer>> {
  const response = await fetch(path);
  if (!response.ok) throw new Error(`fetching ${path} failed: ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

async function run(message: StartMessage): Promise<unknown> {
  if (message.task === "boot") {
    const [wasm, kernel, initrd] = await Promise.all([
      fetchBytes("/hive86.wasm"),
      fetchBytes("/guest/bzImage"),
      fetchBytes("/guest/initramfs.cpio.gz"),
    ]);
    return bootToPrompt({
      wasm,
      kernel,
      initrd,
      cmdline: message.cmdline,
      ramBytes: message.ramBytes,
      timeoutMs: message.timeoutMs,
    });
  }
  const [wasm, rom] = await Promise.all([fetchBytes("/hive86.wasm"), fetchBytes("/cpu-mix.rom")]);
  return benchCpuMix({
    wasm,
    rom,
    runs: message.runs,
    warmup: message.warmup,
    onProgress: (text) => self.postMessage({ type: "progress", message: text }),
  });
}

self.onmessage = async (event: MessageEvent<StartMessage>) => {
  try {
    self.postMessage({ type: "done", result: await run(event.data) });
  } catch (error) {
    self.postMessage({
      type: "error",
      message: error instanceof Error ? error.message : String(error),
    });
  }
};
