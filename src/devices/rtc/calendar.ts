// Proleptic Gregorian calendar arithmetic on whole days since 1970-01-01,
// done by hand so that every year the CMOS can hold (0000-25599) works the
// same way, without Date's two-digit-year and time-zone surprises.

export const SECONDS_PER_DAY = 86_400;

const DAYS_PER_400_YEARS = 146_097;
// Days from 0000-03-01 (the start of a March-based year 0) to 1970-01-01.
const EPOCH_FROM_MARCH_0000 = 719_468;

export interface CivilDate {
  year: number;
  /** 1-12 */
  month: number;
  /** 1-31 */
  day: number;
}

/** Floor modulo: the result has the sign of the divisor. */
export function floorMod(value: number, divisor: number): number {
  return ((value % divisor) + divisor) % divisor;
}

/**
 * Days since 1970-01-01 of a date. Months and days outside their ranges roll
 * over into the neighbouring months and years, as mktime() would.
 */
export function daysFromCivil(year: number, month: number, day: number): number {
  const fullYear = year + Math.floor((month - 1) / 12);
  const monthOfYear = floorMod(month - 1, 12) + 1;
  // Counting years from March puts the leap day at the end of the year.
  const marchYear = monthOfYear <= 2 ? fullYear - 1 : fullYear;
  const era = Math.floor(marchYear / 400);
  const yearOfEra = marchYear - era * 400;
  const monthFromMarch = (monthOfYear + 9) % 12;
  const dayOfYear = Math.floor((153 * monthFromMarch + 2) / 5) + day - 1;
  const dayOfEra =
    yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * DAYS_PER_400_YEARS + dayOfEra - EPOCH_FROM_MARCH_0000;
}

/** The date `days` days after 1970-01-01 (negative: before). */
export function civilFromDays(days: number): CivilDate {
  const shifted = days + EPOCH_FROM_MARCH_0000;
  const era = Math.floor(shifted / DAYS_PER_400_YEARS);
  const dayOfEra = shifted - era * DAYS_PER_400_YEARS;
  const yearOfEra = Math.floor(
    (dayOfEra -
      Math.floor(dayOfEra / 1460) +
      Math.floor(dayOfEra / 36_524) -
      Math.floor(dayOfEra / (DAYS_PER_400_YEARS - 1))) /
      365,
  );
  const dayOfYear =
    dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const monthFromMarch = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * monthFromMarch + 2) / 5) + 1;
  const month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  return { year, month, day };
}

/** Day of the week, 0 = Sunday (1970-01-01 was a Thursday). */
export function weekdayFromDays(days: number): number {
  return floorMod(days + 4, 7);
}
