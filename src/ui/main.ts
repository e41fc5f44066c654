// The demo page: boots the project's Linux guest in a Web Worker, with its
// serial console in an xterm.js terminal, a live heatmap of its memory, and
// panels to move it live to another tab, work its balloon and watch its
// clock; a saved migration trace replays here with no guest. A tab opened at
// #receive starts empty, waiting for a guest; ?reporting=off boots a guest
// whose balloon does not offer free page reporting (to see the balloon
// alone); ?presenter starts in presenter mode; ?heatmap=off leaves the
// memory view off (no dirty logging for it: the benchmark compares).
import { FitAddon } from "@xterm/addon-fit";
import { Terminal } from "@xterm/xterm";
import "@xterm/xterm/css/xterm.css";
import * as Comlink from "comlink";
import { parseTraceFile } from "../migration/trace-file.ts";
import type { SnapshotSummary } from "../migration/snapshot.ts";
import type { VmEvents, VmStatus, VmWorkerApi } from "../worker/vm-worker.ts";
import { BalloonPanel } from "./balloon-panel.ts";
import { BootProgress } from "./boot-progress.ts";
import { ClockPanel } from "./clock-panel.ts";
import { download, element, timestamp } from "./dom.ts";
import { mib } from "./format.ts";
import { Heatmap } from "./heatmap.ts";
import { Journal } from "./journal.ts";
import { MachineBar } from "./machine-bar.ts";
import { MigrationPanel, type VmHandle } from "./migration-panel.ts";
import { Presenter } from "./presenter.ts";
import { Replay } from "./replay.ts";
import { Tabs } from "./tabs.ts";

const RAM_BYTES = 128 * 1024 * 1024;
const BOOT_REQUEST = {
  kernelUrl: "/guest/bzImage",
  initrdUrl: "/guest/initramfs.cpio.gz",
  cmdline: "console=ttyS0",
  ramBytes: RAM_BYTES,
  freePageReporting: new URLSearchParams(location.search).get("reporting") !== "off",
};
const STATUS_EVERY_MS = 500;
const TERMINAL_FONT_PX = 13;
const PRESENTER_TERMINAL_FONT_PX = 16;
/** The heatmap's frame rate (written pages fade over memory-view.ts's FADE_FRAMES frames). */
const FRAME_EVERY_MS = 250;
const HEATMAP_ON = new URLSearchParams(location.search).get("heatmap") !== "off";

function setBootState(state: string): void {
  document.body.dataset.bootState = state;
}

function describeSnapshot(summary: SnapshotSummary): string {
  return (
    `${mib(summary.bytes)}: ${summary.storedPages} pages stored, ` +
    `${summary.zeroPages} zero and ${summary.balloonedPages} ballooned left out`
  );
}

/** One machine in its own worker; restoring a snapshot or an arriving guest replaces it. */
function newVm(): VmHandle {
  const worker = new Worker(new URL("../worker/vm-worker.ts", import.meta.url), { type: "module" });
  return { worker, vm: Comlink.wrap<VmWorkerApi>(worker) };
}

function start(): void {
  const terminal = new Terminal({
    convertEol: false,
    cursorBlink: true,
    scrollback: 5000,
    fontSize: TERMINAL_FONT_PX,
  });
  const fit = new FitAddon();
  terminal.loadAddon(fit);
  terminal.open(element("#terminal"));
  new ResizeObserver(() => fit.fit()).observe(element("#terminal"));
  const say = (text: string) => terminal.write(`\r\n\x1b[33m[hive86: ${text}]\x1b[0m\r\n`);
  const progressBar = element<HTMLProgressElement>("#boot-progress");
  const progressLabel = element("#boot-stage");
  const progress = new BootProgress((milestone) => {
    progressBar.value = milestone.done;
    progressLabel.textContent = milestone.label;
    if (milestone.done === 1) setBootState("prompt");
  });

  /** This tab's VM; null while the tab has no guest (it moved away, or waits for one). */
  let current: VmHandle | null = null;
  let journal = new Journal();
  let replay: Replay | null = null;
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
  // Ctrl-C belongs to the guest: copy and paste are Ctrl-Shift-C and Ctrl-Shift-V.
  terminal.attachCustomKeyEventHandler((event) => {
    if (event.type !== "keydown" || !event.ctrlKey || !event.shiftKey) return true;
    if (event.code === "KeyC" && terminal.hasSelection()) {
      void navigator.clipboard?.writeText(terminal.getSelection());
      return false;
    }
    if (event.code === "KeyV") {
      void navigator.clipboard?.readText().then((text) => terminal.paste(text));
      return false;
    }
    return true;
  });

  const heatmap = new Heatmap(element("#heatmap"), element("#heatmap-info"));
  const balloon = new BalloonPanel();
  balloon.onTarget = (bytes) => void current?.vm.setBalloonTarget(bytes);
  const clock = new ClockPanel(() => journal);
  const tabs = new Tabs(element('[role="tablist"]'));
  tabs.onchange = (id) => {
    if (id === "tab-balloon") balloon.draw();
    if (id === "tab-clock") clock.draw();
  };

  const receiveMode = location.hash === "#receive";
  const migration = new MigrationPanel(
    {
      current: () => current,
      spawn: newVm,
      journal: () => journal,
      adopt(next, banner, journey) {
        current?.worker.terminate();
        current = next;
        journal = journey;
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
        heatmap.clear();
      },
      events,
    },
    { receiving: receiveMode, state: receiveMode ? "empty" : "booting" },
  );
  const linkCap = new URLSearchParams(location.search).get("link");
  if (linkCap) migration.view.setLinkCap(Number(linkCap));

  async function boot(): Promise<void> {
    current?.worker.terminate();
    current = newVm();
    journal = new Journal();
    setBootState("booting");
    progressLabel.textContent = "loading the kernel";
    migration.setState("booting");
    await current.vm.boot(BOOT_REQUEST, events);
    migration.setState("running");
    terminal.focus();
  }

  async function saveSnapshot(): Promise<void> {
    if (!current) return;
    const { bytes, summary } = await current.vm.saveSnapshot();
    download(new Blob([bytes as Uint8Array<ArrayBuffer>]), `hive86-${timestamp()}.hive86`);
    machineBar.say(`saved ${describeSnapshot(summary)}`);
  }

  async function restoreSnapshot(file: File): Promise<void> {
    const bytes = new Uint8Array(await file.arrayBuffer());
    const next = newVm();
    try {
      const summary = await next.vm.restore(Comlink.transfer(bytes, [bytes.buffer]), events);
      current?.worker.terminate();
      current = next;
      journal = new Journal();
      say(`restored ${file.name}`);
      machineBar.say(`restored ${describeSnapshot(summary)}`);
      setBootState("prompt");
      migration.setState("running");
    } catch (error) {
      next.worker.terminate();
      machineBar.say(`not restored: ${error instanceof Error ? error.message : error}`);
    }
  }

  const machineBar = new MachineBar({
    pause: () => void current?.vm.pause(),
    resume: () => void current?.vm.resume(),
    boot: () => void boot(),
    saveSnapshot: () => void saveSnapshot(),
    restoreSnapshot: (file) => void restoreSnapshot(file),
  });

  const presenter = new Presenter({
    migrate: () => migration.migrateToFirstReceiver(),
    balloon: () => {
      tabs.select("tab-balloon");
      balloon.toggle();
    },
    snapshot: () => void saveSnapshot(),
  });
  presenter.onchange = (on) => {
    terminal.options.fontSize = on ? PRESENTER_TERMINAL_FONT_PX : TERMINAL_FONT_PX;
    fit.fit();
    heatmap.readPalette();
    migration.view.restyle();
    balloon.restyle();
    clock.restyle();
  };

  // ---- replay a saved trace, with no guest ----
  const replayBar = element("#replay-bar");
  const replayPlay = element<HTMLButtonElement>("#replay-play");
  const replayPosition = element<HTMLProgressElement>("#replay-position");
  const replaySpeed = element<HTMLSelectElement>("#replay-speed");
  element<HTMLInputElement>("#replay-file").addEventListener("change", async (event) => {
    const input = event.target as HTMLInputElement;
    const file = input.files?.[0];
    input.value = "";
    if (!file) return;
    try {
      const trace = parseTraceFile(await file.text());
      replay?.stop();
      replay = new Replay(trace, {
        frame: (shades) => heatmap.draw(shades),
        progress: (p) => migration.view.showSending(p),
        finished: (t) => {
          migration.view.showResult(t);
          migration.view.setStatus(`replayed: ${file.name}`);
        },
        position: (fraction, playing) => {
          replayPosition.value = fraction;
          replayPlay.textContent = playing ? "Pause" : "Play";
        },
      });
      element("#replay-title").textContent =
        `${file.name}: ${trace.rounds.length} rounds, ${(trace.ramBytes / 2 ** 20).toFixed(0)} MiB`;
      replayBar.hidden = false;
      document.body.dataset.replay = "true";
      tabs.select("tab-migration");
      migration.view.begin(`replaying ${file.name}`);
      replay.setSpeed(Number(replaySpeed.value));
      replay.play();
    } catch (error) {
      migration.view.setStatus(`not replayed: ${(error as Error).message}`);
    }
  });
  replayPlay.addEventListener("click", () => (replay?.isPlaying ? replay.pause() : replay?.play()));
  replaySpeed.addEventListener("change", () => replay?.setSpeed(Number(replaySpeed.value)));
  element("#replay-restart").addEventListener("click", () => {
    if (!replay) return;
    migration.view.begin("replaying again");
    replay.restart();
  });
  element("#replay-close").addEventListener("click", () => {
    replay?.stop();
    replay = null;
    replayBar.hidden = true;
    delete document.body.dataset.replay;
    heatmap.clear();
  });

  // ---- polling the worker ----
  setInterval(() => void showStatus(), STATUS_EVERY_MS);
  setInterval(() => void showFrame(), FRAME_EVERY_MS);

  async function showStatus(): Promise<void> {
    const vm = current;
    let status: VmStatus | null = null;
    try {
      status = vm ? await vm.vm.status() : null;
    } catch {
      return; // the worker went away meanwhile
    }
    if (vm !== current) return; // the guest moved (or was replaced) while we asked
    machineBar.update(status);
    balloon.setRam(status?.ramBytes ?? 0);
    balloon.update(
      status?.balloon ?? null,
      status?.state === "running",
      tabs.selected === "tab-balloon",
    );
    clock.update(
      status?.clock ?? null,
      status?.hostWallMs ?? Date.now(),
      tabs.selected === "tab-clock",
    );
  }

  let framing = false;
  async function showFrame(): Promise<void> {
    const vm = current;
    if (!vm || !HEATMAP_ON || replay || framing || document.hidden) return;
    framing = true;
    try {
      const frame = await vm.vm.memoryFrame();
      if (vm === current) heatmap.draw(frame);
    } catch {
      // no machine (yet, or any more): nothing to draw
    } finally {
      framing = false;
    }
  }

  // For a person at the devtools console (and the tests): the terminal, the last trace, the heatmap.
  Object.assign(window, {
    hive86: {
      terminal,
      heatmap,
      get lastTrace() {
        return migration.lastTrace;
      },
    },
  });

  if (!globalThis.crossOriginIsolated) {
    const note = element("#isolation-note");
    note.textContent =
      "This page is served without the COOP/COEP headers, so it is not cross-origin isolated: " +
      "hive86 runs, but with coarse timers, so the guest's clock moves in steps.";
    note.hidden = false;
  }

  if (receiveMode) {
    setBootState("waiting");
    progressLabel.textContent = "waiting for a guest from another tab";
    say("this tab waits for a guest: migrate one here from another tab");
  } else {
    boot().catch((error: unknown) => {
      setBootState("failed");
      progressLabel.textContent = `failed to start: ${String(error)}`;
    });
  }
}

start();
