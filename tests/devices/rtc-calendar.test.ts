import { describe, expect, it } from "vitest";
import { civilFromDays, daysFromCivil, weekdayFromDays } from "../../src/devices/rtc/calendar.ts";

const MS_PER_DAY = 86_400_000;

// JavaScript's Date implements the same proleptic Gregorian calendar, so it
// serves as an independent reference.
describe("RTC calendar arithmetic", () => {
  it("agrees with Date on every 997th day from year 0 to year 9999", () => {
    const first = daysFromCivil(0, 1, 1);
    const last = daysFromCivil(9999, 12, 31);
    expect(first * MS_PER_DAY).toBe(new Date("0000-01-01T00:00:00Z").getTime());
    for (let days = first; days <= last; days += 997) {
      const date = new Date(days * MS_PER_DAY);
      const civil = civilFromDays(days);
      expect(civil).toEqual({
        year: date.getUTCFullYear(),
        month: date.getUTCMonth() + 1,
        day: date.getUTCDate(),
      });
      expect(weekdayFromDays(days)).toBe(date.getUTCDay());
      expect(daysFromCivil(civil.year, civil.month, civil.day)).toBe(days);
    }
  });

  it("rolls months and days out of range into the neighbouring ones, as Date.UTC does", () => {
    const cases: Array<[number, number, number]> = [
      [2023, 2, 29],
      [2024, 2, 30],
      [2024, 13, 1],
      [2024, 0, 15],
      [2100, 2, 29],
      [1999, 12, 32],
      [2000, 3, 0],
      [2024, 25, 1],
    ];
    for (const [year, month, day] of cases) {
      expect(daysFromCivil(year, month, day) * MS_PER_DAY).toBe(Date.UTC(year, month - 1, day));
    }
  });
});
