// Packs pages into PAGES messages: runs of consecutive zero pages travel as
// a flag, data pages are staged and go through the codec a batch at a time
// (raw when that is not smaller), and no message exceeds the wire's limit.
import {
  Codec,
  encodePages,
  MAX_BATCH_DATA_PAGES,
  MAX_BATCH_RUNS,
  PAGE_SIZE,
  RunKind,
  type PageRun,
} from "./protocol.ts";
import type { PageCodec } from "./page-codec.ts";

export interface BatchTotals {
  dataPages: number;
  zeroPages: number;
  /** Data page bytes before the codec. */
  rawBytes: number;
  /** Whole messages, headers included. */
  wireBytes: number;
  messages: number;
}

const MAX_RUN_PAGES = 0xffff;

export class PageBatcher {
  round = 0;
  readonly totals: BatchTotals = {
    dataPages: 0,
    zeroPages: 0,
    rawBytes: 0,
    wireBytes: 0,
    messages: 0,
  };
  private readonly stage = new Uint8Array(MAX_BATCH_DATA_PAGES * PAGE_SIZE);
  private runs: PageRun[] = [];
  private staged = 0;

  /**
   * @param codec checksums every message, and compresses the staged pages when `compress`.
   * @param emit takes each finished message.
   */
  constructor(
    private readonly codec: PageCodec,
    private readonly compress: boolean,
    private readonly emit: (message: Uint8Array) => void,
  ) {}

  /** The page is zero: the destination zeroes it. */
  addZero(page: number): void {
    this.extend(page, RunKind.ZERO);
    this.totals.zeroPages++;
  }

  /** Sends the 4 KiB at `offset` in `bytes` as page `page`. */
  addData(page: number, bytes: Uint8Array, offset: number): void {
    if (this.staged === MAX_BATCH_DATA_PAGES) this.flush();
    this.extend(page, RunKind.DATA);
    this.stage.set(bytes.subarray(offset, offset + PAGE_SIZE), this.staged * PAGE_SIZE);
    this.staged++;
    this.totals.dataPages++;
  }

  /** Sends what is staged as one message (nothing when nothing is). */
  flush(): void {
    if (this.runs.length === 0) return;
    const rawLength = this.staged * PAGE_SIZE;
    const raw = this.stage.subarray(0, rawLength);
    const packed = rawLength > 0 && this.compress ? this.codec.compress(raw) : null;
    const checksum = (bytes: Uint8Array) => this.codec.checksum32(bytes);
    const message = packed
      ? encodePages(this.round, this.runs, Codec.LZ, rawLength, packed, checksum)
      : encodePages(this.round, this.runs, Codec.NONE, rawLength, raw, checksum);
    this.totals.rawBytes += rawLength;
    this.totals.wireBytes += message.length;
    this.totals.messages++;
    this.runs = [];
    this.staged = 0;
    this.emit(message);
  }

  private extend(page: number, kind: PageRun["kind"]): void {
    const last = this.runs[this.runs.length - 1];
    if (
      last &&
      last.kind === kind &&
      last.first + last.count === page &&
      last.count < MAX_RUN_PAGES
    ) {
      last.count++;
      return;
    }
    if (this.runs.length === MAX_BATCH_RUNS) this.flush();
    this.runs.push({ first: page, count: 1, kind });
  }
}
