// virtio-balloon (device type 5): the host asks the guest to give back pages
// (config num_pages); the guest's driver hands their page numbers over on the
// inflate queue and takes them back on the deflate queue, and reports memory
// statistics on the stats queue when asked, and with free page reporting
// tells us which of its free pages we may discard. An inflated page is zeroed
// and recorded in a bitmap, so snapshots and migration can skip it; a reported
// page is zeroed too. A WebAssembly memory cannot shrink: the balloon saves
// transfer and snapshot bytes, not the host's resident memory.
import type { AccessSize } from "../../../core/core-host.ts";
import type { MachineClock, TimedDevice } from "../../../platform/clock.ts";
import type { DescriptorChain } from "../descriptor-chain.ts";
import type { QueueDefinition, VirtioDeviceHost, VirtioDeviceModel } from "../device-model.ts";
import { featureBit } from "../features.ts";
import { PAGE_SIZE, PageBitmap } from "../../../platform/page-bitmap.ts";
import { BALLOON_STATE_VERSION, parseBalloonState, type BalloonState } from "./state.ts";
import { decodeStats, type BalloonStats } from "./stats.ts";

export const BALLOON_DEVICE_TYPE = 5;
export const VIRTIO_BALLOON_F_STATS_VQ = 1;
export const VIRTIO_BALLOON_F_DEFLATE_ON_OOM = 2;
export const VIRTIO_BALLOON_F_REPORTING = 5;

// Queue roles. The driver sets up only the queues its features need, in this
// order, so with STATS_VQ off the reporting queue is queue 2.
type QueueRole = "inflate" | "deflate" | "stats" | "reporting";
const QUEUE_SIZE = 128;
const CONFIG_NUM_PAGES = 0;
const CONFIG_ACTUAL = 4;
const CONFIG_BYTES = 8;
const PFN_BYTES = 4;
/** PCI class "other memory controller" (05/80), as QEMU presents the balloon. */
const CLASS_MEMORY_OTHER = 0x058000;
export const DEFAULT_STATS_INTERVAL_MS = 2000;

export interface BalloonOptions {
  ramBytes: number;
  clock: MachineClock;
  /** How often to ask the guest for statistics (machine-clock ms); 0 = never. */
  statsIntervalMs?: number;
  /** Offer free page reporting (default true). */
  freePageReporting?: boolean;
}

export interface BalloonInfo {
  /** Guest memory the host wants: RAM minus the balloon's target. */
  targetBytes: number;
  /** Guest memory left after what the guest says it gave. */
  actualBytes: number;
  /** Pages the balloon holds now (host's count). */
  balloonedPages: number;
  /** Free pages the guest reported and the device discarded (zeroed), since power-on. */
  reportedPages: number;
  stats: BalloonStats;
  /** Guest time (s) of the latest statistics, or null. */
  statsAgeSeconds: number | null;
}

export class VirtioBalloon implements VirtioDeviceModel, TimedDevice {
  readonly deviceType = BALLOON_DEVICE_TYPE;
  readonly classCode = CLASS_MEMORY_OTHER;
  readonly name = "virtio-balloon";
  readonly features: bigint;
  // Queues 2 and 3 change role with the features (stats reads, reporting
  // writes), so their direction is checked per chain here.
  readonly queues: readonly QueueDefinition[] = [
    { maxSize: QUEUE_SIZE, buffers: "readable" },
    { maxSize: QUEUE_SIZE, buffers: "readable" },
    { maxSize: QUEUE_SIZE, buffers: "both" },
    { maxSize: QUEUE_SIZE, buffers: "both" },
  ];
  readonly configSize = CONFIG_BYTES;

  /** The pages the balloon holds. */
  readonly ballooned: PageBitmap;
  private host: VirtioDeviceHost | null = null;
  private readonly ramPages: number;
  private readonly clock: MachineClock;
  private statsIntervalNs: number;
  private targetPages = 0;
  private actualPages = 0;
  private stats: BalloonStats = {};
  private statsAtNs: number | null = null;
  private heldStats: DescriptorChain | null = null;
  private heldStatsHead: number | null = null;
  private nextStatsRequestNs: number | null = null;
  private statsNegotiated = false;
  private reportingNegotiated = false;
  /** Pages the guest reported free and we discarded, since power-on. */
  private reportedPages = 0;
  private statsListeners: Array<(stats: BalloonStats) => void> = [];

  constructor(options: BalloonOptions) {
    this.ramPages = Math.floor(options.ramBytes / PAGE_SIZE);
    this.ballooned = new PageBitmap(this.ramPages);
    this.clock = options.clock;
    this.statsIntervalNs = (options.statsIntervalMs ?? DEFAULT_STATS_INTERVAL_MS) * 1e6;
    this.features =
      featureBit(VIRTIO_BALLOON_F_STATS_VQ) |
      featureBit(VIRTIO_BALLOON_F_DEFLATE_ON_OOM) |
      (options.freePageReporting === false ? 0n : featureBit(VIRTIO_BALLOON_F_REPORTING));
  }

  attach(host: VirtioDeviceHost): void {
    this.host = host;
  }

  private get transport(): VirtioDeviceHost {
    if (!this.host) throw new Error("virtio-balloon is not attached to a transport");
    return this.host;
  }

  // ---- the host's controls ----

  /** Asks the guest to keep `bytes` of memory (RAM minus the balloon); rounded to pages. */
  setTargetBytes(bytes: number): void {
    if (!Number.isFinite(bytes) || bytes < 0) throw new RangeError(`bad balloon target ${bytes}`);
    const keep = Math.min(this.ramPages, Math.floor(bytes / PAGE_SIZE));
    const pages = this.ramPages - keep;
    if (pages === this.targetPages) return;
    this.targetPages = pages;
    this.transport.configChanged();
  }

  /** How often the guest is asked for statistics (ms of guest time); 0 stops asking. */
  setStatsInterval(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`bad statistics interval ${ms}`);
    this.statsIntervalNs = ms * 1e6;
    this.nextStatsRequestNs = this.heldStatsHead !== null && ms > 0 ? this.clock.now() : null;
  }

  /** Called with each new set of statistics the guest reports. */
  onStats(listener: (stats: BalloonStats) => void): void {
    this.statsListeners.push(listener);
  }

  info(): BalloonInfo {
    const ramBytes = this.ramPages * PAGE_SIZE;
    return {
      targetBytes: ramBytes - this.targetPages * PAGE_SIZE,
      actualBytes: ramBytes - Math.min(this.actualPages, this.ramPages) * PAGE_SIZE,
      balloonedPages: this.ballooned.count,
      reportedPages: this.reportedPages,
      stats: { ...this.stats },
      statsAgeSeconds: this.statsAtNs === null ? null : (this.clock.now() - this.statsAtNs) / 1e9,
    };
  }

  // ---- configuration space ----

  readConfig(offset: number, size: AccessSize): number {
    const bytes = new DataView(new ArrayBuffer(CONFIG_BYTES));
    bytes.setUint32(CONFIG_NUM_PAGES, this.targetPages, true);
    bytes.setUint32(CONFIG_ACTUAL, this.actualPages, true);
    if (size === 1) return bytes.getUint8(offset);
    if (size === 2) return bytes.getUint16(offset, true);
    return bytes.getUint32(offset, true);
  }

  writeConfig(offset: number, size: AccessSize, value: number): void {
    // Only `actual` belongs to the driver; num_pages is the host's.
    if (offset < CONFIG_ACTUAL) {
      this.transport.log(`virtio-balloon: driver write to num_pages ignored`);
      return;
    }
    const bytes = new DataView(new ArrayBuffer(CONFIG_BYTES));
    bytes.setUint32(CONFIG_ACTUAL, this.actualPages, true);
    if (size === 1) bytes.setUint8(offset, value);
    else if (size === 2) bytes.setUint16(offset, value, true);
    else bytes.setUint32(offset, value, true);
    this.actualPages = bytes.getUint32(CONFIG_ACTUAL, true);
  }

  // ---- queues ----

  featuresAccepted(features: bigint): void {
    this.statsNegotiated = (features & featureBit(VIRTIO_BALLOON_F_STATS_VQ)) !== 0n;
    this.reportingNegotiated = (features & featureBit(VIRTIO_BALLOON_F_REPORTING)) !== 0n;
  }

  /** The queue index each role has under the negotiated features. */
  private queueIndex(role: QueueRole): number {
    const roles: QueueRole[] = ["inflate", "deflate"];
    if (this.statsNegotiated) roles.push("stats");
    if (this.reportingNegotiated) roles.push("reporting");
    return roles.indexOf(role);
  }

  queueNotified(index: number): void {
    if (index === this.queueIndex("inflate")) this.takePages(index, true);
    else if (index === this.queueIndex("deflate")) this.takePages(index, false);
    else if (index === this.queueIndex("stats")) this.receiveStats(index);
    else if (index === this.queueIndex("reporting")) this.discardReported(index);
  }

  private takePages(index: number, inflate: boolean): void {
    const queue = this.transport.queue(index);
    const memory = this.transport.memory;
    for (let chain = queue.pop(); chain; chain = queue.pop()) {
      const bytes = chain.read();
      if (bytes.length % PFN_BYTES !== 0) {
        this.transport.log(
          `virtio-balloon: ${inflate ? "inflate" : "deflate"} buffer of ${bytes.length} bytes ` +
            `is not whole page numbers; the last ${bytes.length % PFN_BYTES} bytes are ignored`,
        );
      }
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      let refused = 0;
      for (let at = 0; at + PFN_BYTES <= bytes.length; at += PFN_BYTES) {
        const page = view.getUint32(at, true);
        if (page >= this.ramPages) {
          refused++;
          continue;
        }
        if (inflate) {
          // Host reclaim: the page's contents are gone; migration and snapshots skip it.
          if (this.ballooned.add(page)) memory.fill(page * PAGE_SIZE, PAGE_SIZE, 0);
        } else {
          this.ballooned.delete(page);
        }
      }
      if (refused > 0) {
        this.transport.log(
          `virtio-balloon: refused ${refused} page number(s) beyond RAM (${this.ramPages} pages)`,
        );
      }
      queue.push(chain, 0);
    }
    queue.interruptIfNeeded();
  }

  private receiveStats(index: number): void {
    const queue = this.transport.queue(index);
    for (let chain = queue.pop(); chain; chain = queue.pop()) {
      if (chain.writableLength > 0 || chain.readableLength === 0) {
        this.transport.needsReset("virtio-balloon: a statistics buffer must be device-readable");
        return;
      }
      // A second buffer while we hold one: the driver is confused; give the old one back.
      if (this.heldStats) queue.push(this.heldStats, 0);
      this.stats = { ...this.stats, ...decodeStats(chain.read()) };
      this.statsAtNs = this.clock.now();
      this.heldStats = chain;
      this.heldStatsHead = chain.head;
      for (const listener of this.statsListeners) listener({ ...this.stats });
    }
    queue.interruptIfNeeded();
    if (this.heldStatsHead !== null && this.statsIntervalNs > 0) {
      this.nextStatsRequestNs = this.clock.now() + this.statsIntervalNs;
    }
  }

  // Free page reporting: each device-writable buffer of a chain is a range of
  // free guest memory the device may discard. We zero whole pages in it.
  private discardReported(index: number): void {
    const queue = this.transport.queue(index);
    const memory = this.transport.memory;
    for (let chain = queue.pop(); chain; chain = queue.pop()) {
      if (chain.readableLength > 0) {
        this.transport.needsReset("virtio-balloon: a free page report must be device-writable");
        return;
      }
      for (const range of chain.writable) {
        const first = Math.ceil(range.address / PAGE_SIZE);
        const end = Math.floor((range.address + range.length) / PAGE_SIZE);
        if (end > first) {
          memory.fill(first * PAGE_SIZE, (end - first) * PAGE_SIZE, 0);
          this.reportedPages += end - first;
        }
      }
      queue.push(chain, 0);
    }
    queue.interruptIfNeeded();
  }

  // ---- statistics requests, on the machine clock ----

  nextDeadline(): number {
    return this.nextStatsRequestNs ?? Infinity;
  }

  advance(now: number): void {
    if (this.nextStatsRequestNs === null || now < this.nextStatsRequestNs) return;
    this.nextStatsRequestNs = null;
    if (!this.host?.driverReady || this.heldStatsHead === null) return;
    const queue = this.transport.queue(this.queueIndex("stats"));
    // After a restore we know the held buffer only by its head index.
    const chain = this.heldStats ?? queue.reopen(this.heldStatsHead);
    this.heldStats = null;
    this.heldStatsHead = null;
    if (!chain) return;
    // Returning the buffer is the request: the driver refills and posts it again.
    queue.push(chain, 0);
    queue.interruptIfNeeded();
  }

  // ---- lifecycle and state ----

  reset(): void {
    // A reset driver starts over: every page is the guest's again.
    this.ballooned.clear();
    this.actualPages = 0;
    this.heldStats = null;
    this.heldStatsHead = null;
    this.nextStatsRequestNs = null;
    this.statsNegotiated = false;
    this.reportingNegotiated = false;
  }

  saveState(): BalloonState {
    return {
      version: BALLOON_STATE_VERSION,
      targetPages: this.targetPages,
      actualPages: this.actualPages,
      ballooned: this.ballooned.ranges(),
      stats: { ...this.stats },
      statsAtNs: this.statsAtNs,
      heldStatsHead: this.heldStatsHead,
      statsIntervalNs: this.statsIntervalNs,
      nextStatsRequestNs: this.nextStatsRequestNs,
      statsNegotiated: this.statsNegotiated,
      reportingNegotiated: this.reportingNegotiated,
      reportedPages: this.reportedPages,
    };
  }

  prepareRestore(value: unknown, what: string): () => void {
    const s = parseBalloonState(value, this.ramPages, what);
    return () => {
      this.targetPages = s.targetPages;
      this.actualPages = s.actualPages;
      this.ballooned.setRanges(s.ballooned);
      this.stats = { ...s.stats };
      this.statsAtNs = s.statsAtNs;
      this.heldStats = null;
      this.heldStatsHead = s.heldStatsHead;
      this.statsIntervalNs = s.statsIntervalNs;
      this.nextStatsRequestNs = s.nextStatsRequestNs;
      this.statsNegotiated = s.statsNegotiated;
      this.reportingNegotiated = s.reportingNegotiated;
      this.reportedPages = s.reportedPages;
    };
  }
}
