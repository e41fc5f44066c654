// The clock panel: the guest's kvm-clock wall time against the host's, over
// the guest's whole journey (a flat line across migrations is the point),
// and the pvclock fields the guest reads.
import type { PvclockInfo } from "../devices/kvmclock/device.ts";
import { TimeSeriesChart } from "./charts.ts";
import { element } from "./dom.ts";
import { count, hex } from "./format.ts";
import type { Journal } from "./journal.ts";

const FLAG_NAMES = ["TSC_STABLE", "GUEST_STOPPED"];

export class ClockPanel {
  private readonly chart: TimeSeriesChart;
  private readonly fields = {
    drift: element("#clock-drift"),
    date: element("#clock-date"),
    version: element("#clock-version"),
    mul: element("#clock-mul"),
    shift: element("#clock-shift"),
    flags: element("#clock-flags"),
    tsc: element("#clock-tsc"),
  };

  constructor(private readonly journal: () => Journal) {
    this.chart = new TimeSeriesChart(
      element("#clock-chart"),
      260,
      "guest clock minus host clock (kvm-clock wall time)",
      "ms",
      [
        { label: "guest − host, ms", color: "--accent" },
        { label: "a move", color: "--hot", points: true },
      ],
      [-50, 50],
    );
  }

  /** A new status: records the drift in the journal and shows it. */
  update(info: PvclockInfo | null, hostWallMs: number, visible: boolean): void {
    if (info?.guestWallMs != null) {
      const drift = info.guestWallMs - hostWallMs;
      this.journal().addSample([hostWallMs, drift]);
      this.fields.drift.textContent = `${drift.toFixed(1)} ms`;
      this.fields.date.textContent = new Date(info.guestWallMs).toISOString().slice(11, 23);
    }
    if (info) {
      this.fields.version.textContent = String(info.version);
      this.fields.mul.textContent = hex(info.mul);
      this.fields.shift.textContent = String(info.shift);
      const names = FLAG_NAMES.filter((_, bit) => info.flags & (1 << bit));
      this.fields.flags.textContent = `${hex(info.flags, 2)} ${names.join(" ")}`;
      this.fields.tsc.textContent = count(info.tsc);
    }
    if (visible) this.draw();
  }

  draw(): void {
    const journal = this.journal();
    if (journal.clock.length === 0) return;
    const start = journal.clock[0]![0];
    const seconds = journal.clock.map(([host]) => (host - start) / 1000);
    const drift = journal.clock.map(([, value]) => value);
    // A move shows as a point on the line at the first sample after it.
    const moves: Array<number | null> = journal.clock.map(() => null);
    for (const move of journal.moves) {
      const index = journal.clock.findIndex(([host]) => host >= move.atMs);
      if (index >= 0) moves[index] = drift[index]!;
    }
    this.chart.update(seconds, [drift, moves]);
  }

  restyle(): void {
    this.chart.restyle();
  }
}
