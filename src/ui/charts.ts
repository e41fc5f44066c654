// The page's charts, on uPlot (small and fast): pages and bytes per
// migration round with the switchover marked, the guest's dirty rate
// against the link's bandwidth, and time series (the balloon, the clock).
// Each fills its container's width and can be saved as a PNG.
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { MigrationTrace } from "../migration/trace.ts";

function cssVar(name: string): string {
  return getComputedStyle(document.body).getPropertyValue(name).trim() || "#888";
}

/** side: 2 bottom (x), 3 left, 1 right (uPlot numbers the sides clockwise from the top). */
function axis(label: string, side: 1 | 2 | 3, scale?: string): uPlot.Axis {
  const muted = cssVar("--muted");
  return {
    label,
    side,
    // An explicit undefined would override uPlot's default scale and hide the axis.
    ...(scale ? { scale } : {}),
    stroke: muted,
    grid: { stroke: cssVar("--line"), width: 1 },
    ticks: { stroke: cssVar("--line"), width: 1 },
    font: "12px system-ui, sans-serif",
    labelFont: "12px system-ui, sans-serif",
    size: 56,
    labelSize: 16,
  };
}

const bars = uPlot.paths.bars!({ size: [0.7, 60] });

/** Rounds are whole numbers: ticks on them only, and half a round of room at each end. */
const roundAxis: Partial<uPlot.Axis> = { incrs: [1, 2, 5, 10, 20, 50, 100] };
const roundScale: uPlot.Scale = {
  time: false,
  range: (_u, min, max) => [min - 0.5, max + 0.5],
};

/** A uPlot chart that follows its container's width. */
abstract class Chart {
  protected plot: uPlot | null = null;
  private data: uPlot.AlignedData | null = null;

  constructor(
    protected readonly container: HTMLElement,
    private readonly height: number,
  ) {
    new ResizeObserver(() => this.resize()).observe(container);
  }

  protected abstract options(width: number, height: number): uPlot.Options;

  protected show(data: uPlot.AlignedData): void {
    this.data = data;
    if (!this.plot) {
      this.plot = new uPlot(this.options(this.width(), this.height), data, this.container);
    } else {
      this.plot.setData(data);
    }
  }

  /** Builds the chart again (its colours follow the page's, which presenter mode changes). */
  restyle(): void {
    this.plot?.destroy();
    this.plot = null;
    if (this.data) this.show(this.data);
  }

  clear(): void {
    this.plot?.destroy();
    this.plot = null;
    this.data = null;
  }

  /** The chart's canvas (axes included), or null when it shows nothing. */
  get canvas(): HTMLCanvasElement | null {
    return this.plot?.ctx.canvas ?? null;
  }

  private width(): number {
    return Math.max(200, this.container.clientWidth);
  }

  private resize(): void {
    if (this.plot && Math.abs(this.plot.width - this.width()) > 2) {
      this.plot.setSize({ width: this.width(), height: this.height });
    }
  }
}

/** Pages sent per round (bars; the switchover's in the accent colour) and MB on the wire (line). */
export class RoundsChart extends Chart {
  update(trace: MigrationTrace): void {
    const rounds = trace.rounds;
    const x = rounds.map((round) => round.round);
    const pages = rounds.map((round) =>
      round.final ? null : round.dataPages + (round.round === 0 ? 0 : round.zeroPages),
    );
    const final = rounds.map((round) => (round.final ? round.dataPages + round.zeroPages : null));
    const megabytes = rounds.map((round) => round.wireBytes / 1e6);
    this.show([x, pages, final, megabytes]);
  }

  protected options(width: number, height: number): uPlot.Options {
    return {
      width,
      height,
      title: "pages and bytes per round",
      scales: { x: roundScale, mb: { auto: true } },
      axes: [
        { ...axis("round", 2), ...roundAxis },
        axis("pages", 3),
        { ...axis("MB", 1, "mb"), grid: { show: false } },
      ],
      series: [
        { label: "round" },
        { label: "pages", fill: cssVar("--data"), stroke: cssVar("--data"), paths: bars },
        {
          label: "switchover (guest paused)",
          fill: cssVar("--accent"),
          stroke: cssVar("--accent"),
          paths: bars,
        },
        { label: "MB on the wire", scale: "mb", stroke: cssVar("--text"), width: 2 },
      ],
      legend: { live: false },
      cursor: { show: false },
    };
  }
}

/** Per round: how fast the guest dirtied memory against how fast the link drained it. */
export class RatesChart extends Chart {
  update(trace: MigrationTrace): void {
    const rounds = trace.rounds.filter((round) => !round.final && round.durationMs > 0);
    this.show([
      rounds.map((round) => round.round),
      rounds.map((round) => (round.dirtyPagesPerSecond * 4096) / 1e6),
      rounds.map((round) => round.bandwidthBytesPerSecond / 1e6),
      rounds.map((round) => round.throttle * 100),
    ]);
  }

  protected options(width: number, height: number): uPlot.Options {
    return {
      width,
      height,
      title: "dirty rate against bandwidth",
      scales: { x: roundScale, pct: { range: [0, 100] } },
      axes: [
        { ...axis("round", 2), ...roundAxis },
        axis("MB/s", 3),
        { ...axis("% CPU", 1, "pct"), grid: { show: false } },
      ],
      series: [
        { label: "round" },
        { label: "dirtied, MB/s", stroke: cssVar("--hot"), width: 2, points: { show: true } },
        { label: "link, MB/s", stroke: cssVar("--good"), width: 2, points: { show: true } },
        {
          label: "guest speed, %",
          scale: "pct",
          stroke: cssVar("--muted"),
          dash: [4, 4],
          width: 1,
        },
      ],
      legend: { live: false },
      cursor: { show: false },
    };
  }
}

export interface SeriesSpec {
  label: string;
  /** A CSS variable of the page, e.g. "--accent". */
  color: string;
  /** Marks only, no line (events on a time axis). */
  points?: boolean;
}

/** Values over seconds: a few series sharing one axis. */
export class TimeSeriesChart extends Chart {
  constructor(
    container: HTMLElement,
    height: number,
    private readonly title: string,
    private readonly unit: string,
    private readonly specs: SeriesSpec[],
    private readonly fixedRange: [number, number] | null = null,
  ) {
    super(container, height);
  }

  update(seconds: number[], values: Array<Array<number | null>>): void {
    this.show([seconds, ...values]);
  }

  protected options(width: number, height: number): uPlot.Options {
    return {
      width,
      height,
      title: this.title,
      scales: {
        x: { time: false },
        y: this.fixedRange
          ? {
              range: (_u, min, max) => [
                Math.min(min, this.fixedRange![0]),
                Math.max(max, this.fixedRange![1]),
              ],
            }
          : { auto: true },
      },
      axes: [axis("seconds", 2), axis(this.unit, 3)],
      series: [
        { label: "s" },
        ...this.specs.map((spec) =>
          spec.points
            ? {
                label: spec.label,
                stroke: cssVar(spec.color),
                width: 0,
                points: { show: true, size: 9, fill: cssVar(spec.color) },
              }
            : { label: spec.label, stroke: cssVar(spec.color), width: 2 },
        ),
      ],
      legend: { live: false },
      cursor: { show: false },
    };
  }
}
