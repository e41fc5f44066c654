// The demo page: boots the project's Linux guest in a Web Worker and connects
// its serial console to an xterm.js terminal, with boot progress and status,
// and moves the guest live to another tab (migration-panel.ts). A tab opened
// at #receive starts empty, waiting for a guest; ?reporting=off boots a guest
// whose balloon does not offer free page reporting (to see the balloon alone).
import { FitAddon } from "@xterm/addon-fit";
import { Terminal } from "@xterm/xterm";
import "@xterm/xterm/css/xterm.css";
import * as Comlink from "comlink";
import type { SnapshotSummary } from "../migration/snapshot.ts";
import type { VmEvents, VmWorkerApi } from "../worker/vm-worker.ts";
import { BootProgress } from "./boot-progress.ts";
import { MigrationPanel, type VmHandle } from "./migration-panel.ts";

const RAM_BYTES = 128 * 1024 * 1024;
const KERNEL_URL = "/guest/bzImage";
const INITRD_URL = "/guest/initramfs.cpio.gz";

function element<T extends HTMLElement>(selector: string): T {
  const found = document.querySelector<T>(selector);
  if (!found) throw new Error(`the page has no ${selector}`);
  return found;
}

const view = {
  terminal: element<HTMLDivElement>("#terminal"),
  progressBar: element<HTMLProgressElement>("#boot-progress"),
  progressLabel: element<HTMLSpanElement>("#boot-stage"),
  state: element<HTMLElement>("#vm-state"),
  mips: element<HTMLElement>("#vm-mips"),
  uptime: element<HTMLElement>("#vm-uptime"),
  instructions: element<HTMLElement>("#vm-instructions"),
  pause: element<HTMLButtonElement>("#pause"),
  resume: element<HTMLButtonElement>("#resume"),
  bootGuest: element<HTMLButtonElement>("#boot-guest"),
  snapshotSave: element<HTMLButtonElement>("#snapshot-save"),
  snapshotRestore: element<HTMLInputElement>("#snapshot-restore"),
  snapshotInfo: element<HTMLElement>("#snapshot-info"),
  balloonTarget: element<HTMLInputElement>("#balloon-target"),
  balloonTargetValue: element<HTMLOutputElement>("#balloon-target-value"),
  balloonActual: element<HTMLElement>("#balloon-actual"),
  balloonPages: element<HTMLElement>("#balloon-pages"),
  balloonReported: element<HTMLElement>("#balloon-reported"),
  statFree: element<HTMLElement>("#stat-free"),
  statAvailable: element<HTMLElement>("#stat-available"),
  statTotal: element<HTMLElement>("#stat-total"),
  statMinorFaults: element<HTMLElement>("#stat-minor-faults"),
  statMajorFaults: element<HTMLElement>("#stat-major-faults"),
};

const MIB = 2 ** 20;

function mib(bytes: number | undefined): string {
  return bytes === undefined ? "—" : `${(bytes / MIB).toFixed(1)} MiB`;
}

function setBootState(state: string): void {
  document.body.dataset.bootState = state;
}

function describeSnapshot(summary: SnapshotSummary): string {
  return (
    `${mib(summary.bytes)}: ${summary.storedPages} pages stored, ` +
    `${summary.zeroPages} zero and ${summary.balloonedPages} ballooned left out`
  );
}

function download(bytes: Uint8Array, name: string): void {
  const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>]));
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** One machine in its own worker; restoring a snapshot or an arriving guest replaces it with a fresh one. */
function newVm(): VmHandle {
  const worker = new Worker(new URL("../worker/vm-worker.ts", import.meta.url), { type: "module" });
  return { worker, vm: Comlink.wrap<VmWorkerApi>(worker) };
}

const BOOT_REQUEST = {
  kernelUrl: KERNEL_URL,
  initrdUrl: INITRD_URL,
  cmdline: "console=ttyS0",
  ramBytes: RAM_BYTES,
  freePageReporting: new URLSearchParams(location.search).get("reporting") !== "off",
};

async function start(): Promise<void> {
  const terminal = new Terminal({ convertEol: false, cursorBlink: true, scrollback: 5000 });
  const fit = new FitAddon();
  terminal.loadAddon(fit);
  terminal.open(view.terminal);
  fit.fit();
  window.addEventListener("resize", () => fit.fit());
  const say = (text: string) => terminal.write(`\r\n\x1b[33m[hive86: ${text}]\x1b[0m\r\n`);

  const progress = new BootProgress((milestone) => {
    view.progressBar.value = milestone.done;
    view.progressLabel.textContent = milestone.label;
    if (milestone.done === 1) setBootState("prompt");
  });

  /** This tab's VM; null while the tab has no guest (it moved away, or waits for one). */
  let current: VmHandle | null = null;
  const decoder = new TextDecoder();
  const events: VmEvents = Comlink.proxy({
    serial(bytes: Uint8Array) {
      terminal.write(bytes);
      progress.feed(decoder.decode(bytes, { stream: true }));
    },
    stopped(reason: string) {
      setBootState("stopped");
      say(`the guest stopped: ${reason}`);
    },
  });
  const encoder = new TextEncoder();
  terminal.onData((data) => void current?.vm.sendSerial(encoder.encode(data)));

  const receiveMode = location.hash === "#receive";
  const migration = new MigrationPanel(
    {
      current: () => current,
      spawn: newVm,
      adopt(next, banner) {
        current?.worker.terminate();
        current = next;
        say(banner);
        setBootState("prompt");
        migration.setState("running");
        terminal.focus();
      },
      movedAway(banner) {
        current?.worker.terminate();
        current = null;
        say(banner);
        setBootState("moved");
        migration.setState("empty");
      },
      events,
    },
    { receiving: receiveMode, state: receiveMode ? "empty" : "booting" },
  );
  // For a person at the devtools console (and the tests): the terminal and the last trace.
  Object.assign(window, {
    hive86: {
      terminal,
      get lastTrace() {
        return migration.lastTrace;
      },
    },
  });

  async function boot(): Promise<void> {
    current?.worker.terminate();
    current = newVm();
    setBootState("booting");
    view.progressLabel.textContent = "loading the kernel";
    migration.setState("booting");
    await current.vm.boot(BOOT_REQUEST, events);
    migration.setState("running");
    terminal.focus();
  }

  view.pause.addEventListener("click", () => void current?.vm.pause());
  view.resume.addEventListener("click", () => void current?.vm.resume());
  view.bootGuest.addEventListener("click", () => void boot());
  view.snapshotSave.addEventListener("click", async () => {
    if (!current) return;
    const { bytes, summary } = await current.vm.saveSnapshot();
    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    download(bytes, `hive86-${stamp}.hive86`);
    view.snapshotInfo.textContent = `saved ${describeSnapshot(summary)}`;
  });
  view.snapshotRestore.addEventListener("change", async () => {
    const file = view.snapshotRestore.files?.[0];
    if (!file) return;
    const bytes = new Uint8Array(await file.arrayBuffer());
    const next = newVm();
    try {
      const summary = await next.vm.restore(Comlink.transfer(bytes, [bytes.buffer]), events);
      current?.worker.terminate();
      current = next;
      say(`restored ${file.name}`);
      view.snapshotInfo.textContent = `restored ${describeSnapshot(summary)}`;
      setBootState("prompt");
      migration.setState("running");
    } catch (error) {
      next.worker.terminate();
      view.snapshotInfo.textContent = `not restored: ${error instanceof Error ? error.message : error}`;
    } finally {
      view.snapshotRestore.value = "";
    }
  });
  view.balloonTarget.max = String(RAM_BYTES / MIB);
  view.balloonTarget.value = view.balloonTarget.max;
  const showTarget = () =>
    (view.balloonTargetValue.textContent = `${view.balloonTarget.value} MiB`);
  showTarget();
  view.balloonTarget.addEventListener("input", showTarget);
  view.balloonTarget.addEventListener("change", () => {
    void current?.vm.setBalloonTarget(Number(view.balloonTarget.value) * MIB);
  });

  setInterval(() => void showStatus(), 500);

  async function showStatus(): Promise<void> {
    const s = current
      ? await current.vm.status()
      : {
          state: "empty",
          stopReason: null,
          mips: 0,
          guestSeconds: 0,
          instructions: 0,
          balloon: null,
        };
    view.state.textContent = s.stopReason ? `${s.state} (${s.stopReason})` : s.state;
    view.mips.textContent = current ? s.mips.toFixed(1) : "—";
    view.uptime.textContent = current ? `${s.guestSeconds.toFixed(1)} s` : "—";
    view.instructions.textContent = current ? `${(s.instructions / 1e6).toFixed(0)} M` : "—";
    view.pause.disabled = s.state !== "running";
    view.resume.disabled = s.state !== "paused";
    view.bootGuest.hidden = current !== null;
    view.snapshotSave.disabled = s.state !== "running" && s.state !== "paused";
    const balloon = s.balloon;
    view.balloonTarget.disabled = !balloon || s.state !== "running";
    view.balloonActual.textContent = mib(balloon?.actualBytes);
    view.balloonPages.textContent = balloon ? String(balloon.balloonedPages) : "—";
    view.balloonReported.textContent = balloon ? String(balloon.reportedPages) : "—";
    view.statFree.textContent = mib(balloon?.stats.freeMemory);
    view.statAvailable.textContent = mib(balloon?.stats.availableMemory);
    view.statTotal.textContent = mib(balloon?.stats.totalMemory);
    view.statMinorFaults.textContent = String(balloon?.stats.minorFaults ?? "—");
    view.statMajorFaults.textContent = String(balloon?.stats.majorFaults ?? "—");
  }

  if (receiveMode) {
    setBootState("waiting");
    view.progressLabel.textContent = "waiting for a guest from another tab";
    say("this tab waits for a guest: migrate one here from another tab");
  } else {
    await boot();
  }
}

start().catch((error: unknown) => {
  setBootState("failed");
  view.progressLabel.textContent = `failed to start: ${String(error)}`;
});
