// The time and alarm registers as the chip presents them: BCD or binary
// (register B's DM bit), 24-hour or 12-hour with PM in bit 7 of the hours.
// Time itself is kept as a count of seconds since 1970-01-01 00:00:00.
import {
  civilFromDays,
  daysFromCivil,
  floorMod,
  SECONDS_PER_DAY,
  weekdayFromDays,
} from "./calendar.ts";
import {
  B_24_HOUR,
  B_BINARY,
  REG_CENTURY,
  REG_DAY_OF_MONTH,
  REG_DAY_OF_WEEK,
  REG_HOURS,
  REG_HOURS_ALARM,
  REG_MINUTES,
  REG_MINUTES_ALARM,
  REG_MONTH,
  REG_SECONDS,
  REG_SECONDS_ALARM,
  REG_YEAR,
} from "./registers.ts";

const HOUR_PM = 0x80;
/** An alarm byte with both top bits set matches every value. */
const ALARM_DONT_CARE = 0xc0;

export interface ClockFormat {
  binary: boolean;
  hour24: boolean;
}

export function clockFormat(regB: number): ClockFormat {
  return { binary: (regB & B_BINARY) !== 0, hour24: (regB & B_24_HOUR) !== 0 };
}

export function sameFormat(a: ClockFormat, b: ClockFormat): boolean {
  return a.binary === b.binary && a.hour24 === b.hour24;
}

/** What the time registers stand for. */
export interface ClockTime {
  /** Seconds since 1970-01-01 00:00:00 (negative before). */
  seconds: number;
  /**
   * The chip counts the day of the week on its own, so a guest may set any
   * weekday; this is how many days it runs ahead of the calendar's (0-6).
   */
  weekdayOffset: number;
}

function encodeNumber(value: number, binary: boolean): number {
  if (binary) return value & 0xff;
  return ((Math.floor(value / 10) % 10) << 4) | (value % 10);
}

// The chip does not check BCD digits; an invalid digit counts for its face value.
function decodeNumber(byte: number, binary: boolean): number {
  return binary ? byte : (byte >> 4) * 10 + (byte & 0x0f);
}

function encodeHours(hour: number, format: ClockFormat): number {
  if (format.hour24) return encodeNumber(hour, format.binary);
  const hourOf12 = hour % 12 === 0 ? 12 : hour % 12;
  return encodeNumber(hourOf12, format.binary) | (hour >= 12 ? HOUR_PM : 0);
}

function decodeHours(byte: number, format: ClockFormat): number {
  const value = decodeNumber(byte & ~HOUR_PM, format.binary);
  if (format.hour24) return value;
  return (value % 12) + (byte & HOUR_PM ? 12 : 0);
}

/** Fills the time registers (and the century byte) of `ram` with `time`. */
export function writeTimeRegisters(ram: Uint8Array, time: ClockTime, format: ClockFormat): void {
  const days = Math.floor(time.seconds / SECONDS_PER_DAY);
  const secondOfDay = time.seconds - days * SECONDS_PER_DAY;
  const date = civilFromDays(days);
  const { binary } = format;
  ram[REG_SECONDS] = encodeNumber(secondOfDay % 60, binary);
  ram[REG_MINUTES] = encodeNumber(Math.floor(secondOfDay / 60) % 60, binary);
  ram[REG_HOURS] = encodeHours(Math.floor(secondOfDay / 3600), format);
  const weekday = floorMod(weekdayFromDays(days) + time.weekdayOffset, 7);
  ram[REG_DAY_OF_WEEK] = encodeNumber(weekday + 1, binary); // 1 = Sunday
  ram[REG_DAY_OF_MONTH] = encodeNumber(date.day, binary);
  ram[REG_MONTH] = encodeNumber(date.month, binary);
  ram[REG_YEAR] = encodeNumber(floorMod(date.year, 100), binary);
  const century = Math.floor(date.year / 100);
  ram[REG_CENTURY] = encodeNumber(floorMod(century, binary ? 256 : 100), binary);
}

/**
 * The time the registers of `ram` show. Values out of range (the 31st of
 * February, minute 61) roll over into the next field, as mktime() does.
 */
export function readTimeRegisters(ram: Uint8Array, format: ClockFormat): ClockTime {
  const { binary } = format;
  const year = decodeNumber(ram[REG_CENTURY]!, binary) * 100 + decodeNumber(ram[REG_YEAR]!, binary);
  const month = decodeNumber(ram[REG_MONTH]!, binary);
  const day = decodeNumber(ram[REG_DAY_OF_MONTH]!, binary);
  const seconds =
    daysFromCivil(year, month, day) * SECONDS_PER_DAY +
    decodeHours(ram[REG_HOURS]!, format) * 3600 +
    decodeNumber(ram[REG_MINUTES]!, binary) * 60 +
    decodeNumber(ram[REG_SECONDS]!, binary);
  const weekday = decodeNumber(ram[REG_DAY_OF_WEEK]!, binary);
  const calendarWeekday = weekdayFromDays(Math.floor(seconds / SECONDS_PER_DAY));
  const weekdayOffset =
    weekday >= 1 && weekday <= 7 ? floorMod(weekday - 1 - calendarWeekday, 7) : 0;
  return { seconds, weekdayOffset };
}

/** The values 0..count-1 whose register encoding equals the alarm byte. */
function alarmMatches(alarm: number, count: number, encode: (value: number) => number): number[] {
  const values: number[] = [];
  for (let value = 0; value < count; value++) {
    if (alarm >= ALARM_DONT_CARE || encode(value) === alarm) values.push(value);
  }
  return values;
}

/**
 * How many updates after the clock shows `seconds` the alarm registers of
 * `ram` next match (1 to 86400), or Infinity when they never can (a byte no
 * time encodes to, such as 0x75 for the seconds).
 */
export function secondsUntilAlarm(ram: Uint8Array, seconds: number, format: ClockFormat): number {
  const { binary } = format;
  const alarmSeconds = alarmMatches(ram[REG_SECONDS_ALARM]!, 60, (v) => encodeNumber(v, binary));
  const alarmMinutes = alarmMatches(ram[REG_MINUTES_ALARM]!, 60, (v) => encodeNumber(v, binary));
  const alarmHours = alarmMatches(ram[REG_HOURS_ALARM]!, 24, (v) => encodeHours(v, format));
  if (alarmSeconds.length === 0 || alarmMinutes.length === 0 || alarmHours.length === 0) {
    return Infinity;
  }
  const now = floorMod(seconds, SECONDS_PER_DAY);
  const hourNow = Math.floor(now / 3600);
  const minuteNow = Math.floor(now / 60) % 60;
  // Candidates in increasing order, today then tomorrow; whole hours and
  // minutes that are already past are skipped without looking at their seconds.
  for (const dayStart of [0, SECONDS_PER_DAY]) {
    for (const hour of alarmHours) {
      if (dayStart === 0 && hour < hourNow) continue;
      for (const minute of alarmMinutes) {
        if (dayStart === 0 && hour === hourNow && minute < minuteNow) continue;
        for (const second of alarmSeconds) {
          const candidate = dayStart + hour * 3600 + minute * 60 + second;
          if (candidate > now) return candidate - now;
        }
      }
    }
  }
  return Infinity;
}
