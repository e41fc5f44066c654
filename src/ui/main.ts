// The page, minimal for now: boots the core in a worker and shows its speed.
import * as Comlink from "comlink";
import type { VmWorkerApi } from "../worker/vm-worker.ts";

const statusLine = document.querySelector<HTMLElement>("#status")!;

async function start(): Promise<void> {
  const worker = new Worker(new URL("../worker/vm-worker.ts", import.meta.url), {
    type: "module",
  });
  const vm = Comlink.wrap<VmWorkerApi>(worker);
  await vm.boot();
  setInterval(async () => {
    const s = await vm.status();
    const stop = s.stopReason ? ` (${s.stopReason})` : "";
    statusLine.textContent =
      `${s.state}${stop}: ${s.mips.toFixed(1)} MIPS, ` +
      `${(s.instructions / 1e6).toFixed(0)} M instructions`;
  }, 500);
}

start().catch((error: unknown) => {
  statusLine.textContent = `failed to start: ${String(error)}`;
});
