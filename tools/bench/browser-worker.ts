// The browser side of `npm run bench`: a module Web Worker that fetches the
// core and the guest program from the page's origin, runs the same
// benchCpuMix() as Node, and posts the result (or the error) back.
import { benchCpuMix } from "./cpu-mix-runner.ts";

interface StartMessage {
  runs: number;
  warmup: number;
}

async function fetchBytes(path: string): Promise<Uint8Array<ArrayBuffer>> {
  const response = await fetch(path);
  if (!response.ok) throw new Error(`fetching ${path} failed: ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

self.onmessage = async (event: MessageEvent<StartMessage>) => {
  try {
    const [wasm, rom] = await Promise.all([fetchBytes("/hive86.wasm"), fetchBytes("/cpu-mix.rom")]);
    const result = await benchCpuMix({
      wasm,
      rom,
      runs: event.data.runs,
      warmup: event.data.warmup,
      onProgress: (message) => self.postMessage({ type: "progress", message }),
    });
    self.postMessage({ type: "done", result });
  } catch (error) {
    self.postMessage({
      type: "error",
      message: error instanceof Error ? error.message : String(error),
    });
  }
};
