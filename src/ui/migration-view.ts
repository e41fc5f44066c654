// The migration panel's DOM: the receive switch, the peer list, pairing,
// a progress bar per round while a guest moves, the rounds' charts, and what
// the move did (downtime in large type), with the trace and charts to save.
import type { IncomingProgress } from "../migration/destination.ts";
import type { Done } from "../migration/protocol.ts";
import type { MigrationProgress } from "../migration/source.ts";
import type { MigrationTrace } from "../migration/trace.ts";
import { traceFileText } from "../migration/trace-file.ts";
import { RatesChart, RoundsChart } from "./charts.ts";
import { download, element, timestamp } from "./dom.ts";
import { count, megabytes } from "./format.ts";
import type { TabInfo } from "./signaling/tab-directory.ts";

const CHART_HEIGHT = 150;
const PAGE_BYTES = 4096;

export class MigrationView<Target = unknown> {
  onReceiveChange: (on: boolean) => void = () => {};
  onMigrate: (target: Target) => void = () => {};
  onPairCreate: () => void = () => {};
  onPairJoin: (code: string) => void = () => {};
  onCancel: () => void = () => {};

  private readonly receiveSwitch = element<HTMLInputElement>("#receive-switch");
  private readonly selfLabel = element<HTMLElement>("#self-label");
  private readonly peerList = element<HTMLUListElement>("#peer-list");
  private readonly verifyBox = element<HTMLInputElement>("#migrate-verify");
  private readonly linkSelect = element<HTMLSelectElement>("#migrate-link");
  private readonly status = element<HTMLElement>("#migration-status");
  private readonly rounds = element<HTMLOListElement>("#migration-rounds");
  private readonly result = element<HTMLElement>("#migration-result");
  private readonly pairStatus = element<HTMLElement>("#pair-status");
  private readonly pairCode = element<HTMLInputElement>("#pair-code");
  private readonly cancel = element<HTMLButtonElement>("#migration-cancel");
  private readonly traceActions = element<HTMLElement>("#trace-actions");
  private readonly roundsChart = new RoundsChart(element("#rounds-chart"), CHART_HEIGHT);
  private readonly ratesChart = new RatesChart(element("#rates-chart"), CHART_HEIGHT);
  private peersKey = "";
  /** The trace the panel shows (a move's, or a replay's), for saving. */
  private shown: MigrationTrace | null = null;

  constructor() {
    this.receiveSwitch.addEventListener("change", () =>
      this.onReceiveChange(this.receiveSwitch.checked),
    );
    element<HTMLButtonElement>("#pair-create").addEventListener("click", () => this.onPairCreate());
    this.cancel.addEventListener("click", () => this.onCancel());
    element<HTMLButtonElement>("#trace-save").addEventListener("click", () => this.saveTrace());
    element<HTMLButtonElement>("#charts-save").addEventListener("click", () => this.saveCharts());
    element<HTMLFormElement>("#pair-join").addEventListener("submit", (event) => {
      event.preventDefault();
      const code = this.pairCode.value.trim();
      if (code) this.onPairJoin(code);
    });
  }

  get verify(): boolean {
    return this.verifyBox.checked;
  }

  /** The link cap chosen (bytes per second), or undefined for full speed. */
  get linkBytesPerSecond(): number | undefined {
    const megabytes = Number(this.linkSelect.value);
    return megabytes > 0 ? megabytes * 1e6 : undefined;
  }

  /** Preselects a cap (`?link=2` on the page's address); values not offered are added. */
  setLinkCap(megabytes: number): void {
    if (!(megabytes > 0) || !Number.isFinite(megabytes)) return;
    const value = String(megabytes);
    if (![...this.linkSelect.options].some((option) => option.value === value)) {
      this.linkSelect.add(new Option(`${value} MB/s`, value));
    }
    this.linkSelect.value = value;
  }

  setSelf(label: string): void {
    this.selfLabel.textContent = label;
  }

  setReceiving(on: boolean): void {
    this.receiveSwitch.checked = on;
    document.body.dataset.receiving = String(on);
  }

  /** The cancel button, while this tab sends its guest. */
  setCancellable(on: boolean): void {
    this.cancel.hidden = !on;
  }

  setStatus(text: string): void {
    this.status.textContent = text;
  }

  /** The migration did not happen: why, and the page is ready for the next. */
  failed(reason: string): void {
    document.body.dataset.migration = "abandoned";
    this.setStatus(reason);
  }

  setPairing(text: string): void {
    this.pairStatus.textContent = text;
  }

  renderPeers(
    tabs: Array<{ target: Target; tab: TabInfo }>,
    remote: { target: Target } | null,
    canSend: boolean,
  ): void {
    // Tabs announce themselves every few seconds: rebuild only on a change, so
    // a button is not replaced under the pointer.
    const key = JSON.stringify([tabs.map(({ tab }) => tab), remote !== null, canSend]);
    if (key === this.peersKey) return;
    this.peersKey = key;
    const rows = tabs.map(({ target, tab }) =>
      this.peerRow(
        `tab ${tab.label}`,
        `${tab.state}${tab.receiving ? " · receiving" : ""}`,
        target,
        canSend,
      ),
    );
    if (remote)
      rows.push(this.peerRow("paired browser", "through the server", remote.target, canSend));
    if (rows.length === 0) {
      const empty = document.createElement("li");
      empty.className = "note";
      empty.textContent = "no other hive86 tab is open: open this page in a second tab";
      rows.push(empty);
    }
    this.peerList.replaceChildren(...rows);
  }

  private peerRow(name: string, detail: string, target: Target, canSend: boolean): HTMLLIElement {
    const row = document.createElement("li");
    const label = document.createElement("span");
    label.className = "peer-name";
    label.textContent = name;
    const info = document.createElement("span");
    info.className = "peer-detail";
    info.textContent = detail;
    const button = document.createElement("button");
    button.textContent = "Migrate here";
    button.disabled = !canSend;
    button.setAttribute("aria-label", `migrate this tab's guest to ${name}`);
    button.addEventListener("click", () => this.onMigrate(target));
    row.append(label, info, button);
    return row;
  }

  begin(what: string): void {
    document.body.dataset.migration = "active";
    this.setStatus(what);
    this.rounds.replaceChildren();
    this.result.hidden = true;
    this.traceActions.hidden = true;
    this.roundsChart.clear();
    this.ratesChart.clear();
  }

  /** The source's rounds: one bar each, the current one filling up. */
  showSending(progress: MigrationProgress): void {
    const { trace } = progress;
    const rows = trace.rounds.map((round, i) => {
      const current = i === trace.rounds.length - 1 && progress.phase !== "done";
      const done =
        current && progress.roundTotal > 0 ? progress.roundDone / progress.roundTotal : 1;
      const pages = round.dataPages + (round.round === 0 ? 0 : round.zeroPages);
      const text = round.final
        ? `${count(pages)} pages, guest paused`
        : `${count(current ? progress.roundDone : round.candidatePages)}/${count(round.candidatePages)} · ${megabytes(round.wireBytes)}`;
      return this.roundRow(round.round, done, text, round.final);
    });
    this.rounds.replaceChildren(...rows);
    this.roundsChart.update(trace);
    this.ratesChart.update(trace);
    const phase: Record<MigrationProgress["phase"], string> = {
      connecting: "connecting…",
      precopy: `round ${progress.round}: copying while the guest runs`,
      "stop-and-copy": "guest paused: the last pages and the state",
      handover: "waiting for the other tab to take over",
      done: "done",
    };
    this.setStatus(phase[progress.phase]);
  }

  showReceiving(progress: IncomingProgress): void {
    const phase: Record<IncomingProgress["phase"], string> = {
      offered: "a guest is on its way",
      receiving: `round ${progress.round}: ${count(progress.pages)} pages, ${megabytes(progress.wireBytes)} received`,
      restoring: "restoring the machine",
      running: "the guest runs here",
      done: "done",
    };
    this.setStatus(phase[progress.phase]);
  }

  private roundRow(round: number, fraction: number, text: string, final: boolean): HTMLLIElement {
    const row = document.createElement("li");
    if (final) row.className = "final";
    const label = document.createElement("span");
    label.textContent = final ? "switchover" : `round ${round}`;
    const bar = document.createElement("progress");
    bar.max = 1;
    bar.value = fraction;
    bar.setAttribute("aria-label", `round ${round} progress`);
    const detail = document.createElement("span");
    detail.className = "round-detail";
    detail.textContent = text;
    row.append(label, bar, detail);
    return row;
  }

  /** What the move did, on the tab it left. */
  showResult(trace: MigrationTrace): void {
    document.body.dataset.migration = trace.outcome;
    this.showCharts(trace);
    if (trace.outcome !== "completed") return;
    this.fillResult({
      downtimeMs: trace.downtimeMs ?? 0,
      rounds: trace.rounds.length,
      wireBytes: trace.totals.wireBytes + trace.totals.stateBytes,
      dataPages: trace.totals.dataPages,
      zeroPages: trace.totals.zeroPages,
      balloonedPages: trace.totals.balloonedPages,
      compressionRatio: trace.totals.compressionRatio,
      totalMs: trace.totalMs,
      verified: trace.verify ? trace.verify.match : null,
    });
  }

  /** What the move did, on the tab the guest arrived in (the source's own figures). */
  showArrival(trace: MigrationTrace, summary: Done | null): void {
    document.body.dataset.migration = trace.outcome;
    this.showCharts(trace);
    this.ratesChart.clear(); // the rates are the source's to know
    if (!summary) return;
    this.fillResult({ ...summary, verified: trace.verify ? trace.verify.match : null });
  }

  /** A trace's charts and its save buttons (a replay's too). */
  showCharts(trace: MigrationTrace): void {
    this.shown = trace;
    this.roundsChart.update(trace);
    this.ratesChart.update(trace);
    this.traceActions.hidden = false;
  }

  /** Charts follow the page's colours (presenter mode). */
  restyle(): void {
    this.roundsChart.restyle();
    this.ratesChart.restyle();
  }

  private saveTrace(): void {
    if (!this.shown) return;
    const blob = new Blob([traceFileText(this.shown)], { type: "application/json" });
    download(blob, `hive86-migration-${timestamp()}.json`);
  }

  /** Both charts, one above the other with their titles, as one PNG. */
  private saveCharts(): void {
    const charts = [
      { canvas: this.roundsChart.canvas, title: "pages and bytes per round" },
      { canvas: this.ratesChart.canvas, title: "dirty rate against bandwidth" },
    ].filter(
      (chart): chart is { canvas: HTMLCanvasElement; title: string } => chart.canvas !== null,
    );
    if (charts.length === 0) return;
    const band = 32;
    const style = getComputedStyle(document.body);
    const sheet = document.createElement("canvas");
    sheet.width = Math.max(...charts.map(({ canvas }) => canvas.width));
    sheet.height = charts.reduce((sum, { canvas }) => sum + band + canvas.height, 0);
    const context = sheet.getContext("2d")!;
    context.fillStyle = style.getPropertyValue("--panel") || "#000";
    context.fillRect(0, 0, sheet.width, sheet.height);
    let y = 0;
    for (const { canvas, title } of charts) {
      context.fillStyle = style.getPropertyValue("--text") || "#fff";
      context.font = "600 20px system-ui, sans-serif";
      context.fillText(title, 12, y + 24);
      context.drawImage(canvas, 0, y + band);
      y += band + canvas.height;
    }
    sheet.toBlob((blob) => blob && download(blob, `hive86-migration-charts-${timestamp()}.png`));
  }

  private fillResult(figures: Done & { verified: boolean | null }): void {
    element("#result-downtime").textContent = figures.downtimeMs.toFixed(1);
    element("#result-rounds").textContent = String(figures.rounds);
    element("#result-wire").textContent = megabytes(figures.wireBytes);
    element("#result-sent").textContent = count(figures.dataPages);
    // What did not cross the wire: zero pages and the balloon's pages whole,
    // and what the codec took off the pages that did (ratio = raw / sent).
    const sentPageBytes = figures.dataPages * PAGE_BYTES;
    const saved = (selector: string, bytes: number, detail: string) => {
      const field = element(selector);
      field.textContent = megabytes(bytes);
      field.title = detail;
    };
    saved("#result-zero", figures.zeroPages * PAGE_BYTES, `${count(figures.zeroPages)} pages`);
    saved(
      "#result-ballooned",
      figures.balloonedPages * PAGE_BYTES,
      `${count(figures.balloonedPages)} pages`,
    );
    saved(
      "#result-ratio",
      sentPageBytes - sentPageBytes / figures.compressionRatio,
      `${figures.compressionRatio.toFixed(2)} : 1`,
    );
    element("#result-total").textContent = `${figures.totalMs.toFixed(0)} ms`;
    element("#result-verify").textContent =
      figures.verified === null ? "off" : figures.verified ? "equal" : "DIFFERENT";
    this.result.hidden = false;
  }
}
