// The RTC's saved state: plain, versioned, JSON-friendly data. Times are
// absolute machine-clock nanoseconds, so a state restored on a clock that
// reads the same time continues exactly where it was saved.
import {
  expectBytes,
  expectInt,
  expectNumber,
  expectObject,
  expectVersion,
} from "../../platform/state-check.ts";
import {
  A_UIP,
  C_FLAGS,
  CMOS_BANK_SIZE,
  D_VRT,
  dividerMode,
  rateSelect,
  REG_A,
  REG_C,
  REG_D,
} from "./registers.ts";

export const RTC_STATE_VERSION = 1;

/** Far enough either side of 1970 for every year the registers can show. */
export const TIME_SECONDS_LIMIT = 2 ** 40;
const NS_PER_SECOND = 1e9;

export interface RtcState {
  version: typeof RTC_STATE_VERSION;
  /**
   * The standard bank, 0x00-0x7F. REG C holds the pending PF/AF/UF flags
   * (IRQF follows from them), REG A's UIP bit is 0 (it follows from the time),
   * REG D is VRT. The time bytes are what the guest sees while the clock is
   * stopped or being set; while it counts, timeSeconds is what counts.
   */
  ram: number[];
  /** The extended bank behind ports 0x72/0x73. */
  extendedRam: number[];
  /** The last byte written to port 0x70: bit 7 masks NMI, bits 6-0 select a register. */
  index: number;
  /** The last byte written to port 0x72 (bits 6-0 select a byte of the extended bank). */
  extendedIndex: number;
  /** The time shown while the clock counts, in seconds since 1970-01-01 00:00:00. */
  timeSeconds: number;
  /** Days (0-6) the weekday register runs ahead of the calendar's weekday. */
  weekdayOffset: number;
  /** Machine-clock ns of the divider chain's next second boundary, while it runs. */
  nextUpdateNs: number;
  /** Ns from the held divider chain to its next second boundary, while it does not run. */
  heldUntilUpdateNs: number;
  /** Machine-clock ns of the next periodic edge; null while the rate or divider gives none. */
  nextPeriodicNs: number | null;
}

/** Checks an untrusted value and returns a fresh RtcState; throws TypeError/RangeError. */
export function parseRtcState(value: unknown): RtcState {
  const what = "RTC state";
  const fields = expectObject(value, what);
  expectVersion(fields, RTC_STATE_VERSION, what);
  const ram = [...expectBytes(fields, "ram", CMOS_BANK_SIZE, CMOS_BANK_SIZE, what)];
  if (ram[REG_A]! & A_UIP) throw new RangeError(`${what}.ram[10] (REG A) must have UIP clear`);
  if (ram[REG_C]! & ~C_FLAGS) {
    throw new RangeError(`${what}.ram[12] (REG C) may only hold PF, AF and UF`);
  }
  if (ram[REG_D] !== D_VRT) throw new RangeError(`${what}.ram[13] (REG D) must be 0x80`);

  const periodic = fields.nextPeriodicNs;
  if (periodic !== null && (typeof periodic !== "number" || !Number.isFinite(periodic))) {
    throw new TypeError(`${what}.nextPeriodicNs must be a finite number or null`);
  }
  const hasPeriodic = dividerMode(ram[REG_A]!) === "running" && rateSelect(ram[REG_A]!) !== 0;
  if (hasPeriodic !== (periodic !== null)) {
    throw new RangeError(
      `${what}.nextPeriodicNs must be ${hasPeriodic ? "a number" : "null"} for REG A ${ram[REG_A]}`,
    );
  }
  if (periodic !== null && periodic < 0) {
    throw new RangeError(`${what}.nextPeriodicNs must not be negative, got ${periodic}`);
  }

  return {
    version: RTC_STATE_VERSION,
    ram,
    extendedRam: [...expectBytes(fields, "extendedRam", CMOS_BANK_SIZE, CMOS_BANK_SIZE, what)],
    index: expectInt(fields, "index", 0, 0xff, what),
    extendedIndex: expectInt(fields, "extendedIndex", 0, 0xff, what),
    timeSeconds: expectInt(fields, "timeSeconds", -TIME_SECONDS_LIMIT, TIME_SECONDS_LIMIT, what),
    weekdayOffset: expectInt(fields, "weekdayOffset", 0, 6, what),
    nextUpdateNs: expectNumber(fields, "nextUpdateNs", 0, Number.MAX_VALUE, what),
    heldUntilUpdateNs: expectNumber(fields, "heldUntilUpdateNs", 0, NS_PER_SECOND, what),
    nextPeriodicNs: periodic,
  };
}
