// The balloon panel: the target slider, what the guest gave, its own memory
// statistics, and how free and available memory moved over the last minutes.
import type { BalloonInfo } from "../devices/virtio/balloon/device.ts";
import { TimeSeriesChart } from "./charts.ts";
import { element } from "./dom.ts";
import { mib } from "./format.ts";

const MIB = 2 ** 20;
const HISTORY = 240;

export class BalloonPanel {
  /** The user moved the slider: keep this many bytes for the guest. */
  onTarget: (bytes: number) => void = () => {};

  private readonly slider = element<HTMLInputElement>("#balloon-target");
  private readonly sliderValue = element<HTMLOutputElement>("#balloon-target-value");
  private readonly chart: TimeSeriesChart;
  private readonly history: Array<[number, number | null, number | null, number | null]> = [];
  private readonly started = performance.now();
  private readonly fields = {
    actual: element("#balloon-actual"),
    pages: element("#balloon-pages"),
    reported: element("#balloon-reported"),
    free: element("#stat-free"),
    available: element("#stat-available"),
    total: element("#stat-total"),
    minor: element("#stat-minor-faults"),
    major: element("#stat-major-faults"),
  };

  constructor() {
    this.chart = new TimeSeriesChart(element("#balloon-chart"), 220, "guest memory", "MiB", [
      { label: "free", color: "--good" },
      { label: "available", color: "--data" },
      { label: "balloon holds", color: "--accent" },
    ]);
    const showTarget = () => (this.sliderValue.textContent = `${this.slider.value} MiB`);
    this.slider.addEventListener("input", showTarget);
    this.slider.addEventListener("change", () => this.onTarget(Number(this.slider.value) * MIB));
    showTarget();
  }

  setRam(ramBytes: number): void {
    if (ramBytes <= 0 || this.slider.max === String(ramBytes / MIB)) return;
    this.slider.max = String(ramBytes / MIB);
    this.slider.value = this.slider.max;
    this.sliderValue.textContent = `${this.slider.value} MiB`;
  }

  /** Toggles between all memory for the guest and 64 MiB given back (the B shortcut). */
  toggle(): void {
    const full = Number(this.slider.max);
    this.slider.value = String(Number(this.slider.value) >= full ? full - 64 : full);
    this.sliderValue.textContent = `${this.slider.value} MiB`;
    this.onTarget(Number(this.slider.value) * MIB);
  }

  update(balloon: BalloonInfo | null, running: boolean, visible: boolean): void {
    this.slider.disabled = !balloon || !running;
    const f = this.fields;
    f.actual.textContent = mib(balloon?.actualBytes);
    f.pages.textContent = balloon ? String(balloon.balloonedPages) : "—";
    f.reported.textContent = balloon ? String(balloon.reportedPages) : "—";
    f.free.textContent = mib(balloon?.stats.freeMemory);
    f.available.textContent = mib(balloon?.stats.availableMemory);
    f.total.textContent = mib(balloon?.stats.totalMemory);
    f.minor.textContent = String(balloon?.stats.minorFaults ?? "—");
    f.major.textContent = String(balloon?.stats.majorFaults ?? "—");
    if (!balloon) return;
    const toMib = (bytes: number | undefined) => (bytes === undefined ? null : bytes / MIB);
    this.history.push([
      (performance.now() - this.started) / 1000,
      toMib(balloon.stats.freeMemory),
      toMib(balloon.stats.availableMemory),
      (balloon.balloonedPages * 4096) / MIB,
    ]);
    if (this.history.length > HISTORY) this.history.shift();
    if (visible) this.draw();
  }

  draw(): void {
    if (this.history.length === 0) return;
    const column = (i: 1 | 2 | 3) => this.history.map((row) => row[i]);
    this.chart.update(
      this.history.map((row) => row[0]),
      [column(1), column(2), column(3)],
    );
  }

  restyle(): void {
    this.chart.restyle();
  }
}
