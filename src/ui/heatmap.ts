// The memory heatmap: every guest page one pixel of a canvas 256 pages wide
// (128 MiB: 256 x 128), scaled up without smoothing. A frame is a byte per
// page (PageShade, machine/memory-view.ts) from the worker, or from a replay.
// Hovering a cell says its guest-physical address and what it holds.
import { FADE_FRAMES, PageShade } from "../machine/memory-view.ts";
import { hex } from "./format.ts";

const COLUMNS = 256;
const IDLE_TEXT = "one cell per 4 KiB page, a row per MiB; hover a cell for its address";
const PAGE = 4096;

type Rgb = [number, number, number];

function rgb(css: string): Rgb {
  const value = Number.parseInt(css.trim().replace("#", ""), 16);
  return [(value >> 16) & 0xff, (value >> 8) & 0xff, value & 0xff];
}

function mix(from: Rgb, to: Rgb, t: number): Rgb {
  return [0, 1, 2].map((i) => Math.round(from[i]! + (to[i]! - from[i]!) * t)) as Rgb;
}

const NAMES: Record<number, string> = {
  [PageShade.ZERO]: "zero",
  [PageShade.DATA]: "data",
  [PageShade.BALLOONED]: "held by the balloon",
  [PageShade.SENT]: "sent in this round",
};

function describe(shade: number): string {
  if (shade >= PageShade.WRITTEN)
    return `written ${((shade - PageShade.WRITTEN) / 4).toFixed(2)} s ago`;
  return NAMES[shade] ?? "unknown";
}

export class Heatmap {
  private readonly context: CanvasRenderingContext2D;
  private image: ImageData | null = null;
  private frame: Uint8Array | null = null;
  /** RGBA for each shade byte, from the page's CSS colours. */
  private palette = new Uint8Array(256 * 4);

  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly info: HTMLElement,
  ) {
    this.context = canvas.getContext("2d")!;
    this.readPalette();
    canvas.addEventListener("mousemove", (event) => this.hover(event));
    canvas.addEventListener("mouseleave", () => this.hover(null));
  }

  /** Takes the colours again (presenter mode changes them). */
  readPalette(): void {
    const style = getComputedStyle(document.body);
    const color = (name: string) => rgb(style.getPropertyValue(name) || "#000000");
    const data = color("--data");
    const fixed: Array<[number, Rgb]> = [
      [PageShade.ZERO, color("--zero")],
      [PageShade.DATA, data],
      [PageShade.BALLOONED, color("--ballooned")],
      [PageShade.SENT, color("--sent")],
    ];
    for (const [shade, [r, g, b]] of fixed) this.palette.set([r, g, b, 255], shade * 4);
    const hot = color("--hot");
    for (let age = 0; age < FADE_FRAMES; age++) {
      const [r, g, b] = mix(hot, data, age / FADE_FRAMES);
      this.palette.set([r, g, b, 255], (PageShade.WRITTEN + age) * 4);
    }
    if (this.frame) this.draw(this.frame);
  }

  /** Paints a frame: one byte per page. */
  draw(frame: Uint8Array): void {
    if (!this.frame) this.info.textContent = IDLE_TEXT;
    this.frame = frame;
    const rows = Math.ceil(frame.length / COLUMNS);
    if (!this.image || this.image.height !== rows) {
      this.canvas.width = COLUMNS;
      this.canvas.height = rows;
      this.image = this.context.createImageData(COLUMNS, rows);
    }
    const pixels = new Uint32Array(this.image.data.buffer);
    const palette = new Uint32Array(this.palette.buffer);
    for (let page = 0; page < frame.length; page++) pixels[page] = palette[frame[page]!]!;
    this.context.putImageData(this.image, 0, 0);
  }

  /** Shows nothing: no guest in this tab. */
  clear(): void {
    this.frame = null;
    this.context.clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.info.textContent = "no guest in this tab";
  }

  /** The latest frame, for tests and the console. */
  get current(): Uint8Array | null {
    return this.frame;
  }

  private hover(event: MouseEvent | null): void {
    if (!this.frame) return;
    if (!event) {
      this.info.textContent = IDLE_TEXT;
      return;
    }
    // The picture is letterboxed inside the element (object-fit: contain).
    const box = this.canvas.getBoundingClientRect();
    const scale = Math.min(box.width / this.canvas.width, box.height / this.canvas.height);
    const left = box.left + (box.width - this.canvas.width * scale) / 2;
    const top = box.top + (box.height - this.canvas.height * scale) / 2;
    const column = Math.floor((event.clientX - left) / scale);
    const row = Math.floor((event.clientY - top) / scale);
    const page = row * COLUMNS + column;
    if (column < 0 || column >= COLUMNS || page < 0 || page >= this.frame.length) return;
    const start = page * PAGE;
    this.info.textContent = `page ${page}: ${hex(start)}-${hex(start + PAGE - 1)}, ${describe(this.frame[page]!)}`;
  }
}
