// The balloon slider on the demo page asks the guest to give memory back;
// the guest's own /proc/meminfo and the balloon's "actual" show it happened.
import { expect, test } from "@playwright/test";
import { bootDemo, runAndCapture } from "./page-helpers.ts";

const MIB = 1024;

test("moving the balloon slider changes the guest's available memory", async ({ page }) => {
  await bootDemo(page);
  const available = async (tag: string) =>
    Number(
      await runAndCapture(
        page,
        `echo ${tag} $(grep MemAvailable /proc/meminfo)`,
        new RegExp(`^${tag} MemAvailable: (\\d+) kB`, "m"),
      ),
    );
  const before = await available("before");
  await page.locator("#tab-balloon").click();
  await expect(page.locator("#balloon-target")).toBeEnabled();

  await page.locator("#balloon-target").fill("64");
  await expect(page.locator("#balloon-target-value")).toHaveText("64 MiB");
  await expect(page.locator("#balloon-actual")).toHaveText("64.0 MiB");
  await expect(page.locator("#balloon-pages")).toHaveText("16384");
  const inflated = await available("inflated");
  expect(before - inflated).toBeGreaterThan(60 * MIB);
  expect(before - inflated).toBeLessThan(68 * MIB);

  await page.locator("#balloon-target").fill("128");
  await expect(page.locator("#balloon-actual")).toHaveText("128.0 MiB");
  await expect(page.locator("#balloon-pages")).toHaveText("0");
  const deflated = await available("deflated");
  expect(Math.abs(deflated - before)).toBeLessThan(4 * MIB);

  // The guest's statistics reach the page.
  await expect(page.locator("#stat-total")).toHaveText(/^1\d\d\.\d MiB$/);
});
