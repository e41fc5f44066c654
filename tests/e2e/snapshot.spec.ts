// A snapshot saved on one page resumes on another: the second tab's guest
// continues with the first one's files and processes.
import { readFileSync, writeFileSync } from "node:fs";
import { expect, test } from "@playwright/test";
import { bootDemo, runAndCapture } from "./page-helpers.ts";

test("a snapshot saved in one tab resumes in another", async ({ context }, testInfo) => {
  const first = await context.newPage();
  await bootDemo(first);
  await runAndCapture(
    first,
    "echo snap-$((3*7)) > /tmp/mark; echo written-$((1+1))",
    /^(written-2)/m,
  );
  await expect(first.locator("#snapshot-save")).toBeEnabled();
  const [download] = await Promise.all([
    first.waitForEvent("download"),
    first.locator("#snapshot-save").click(),
  ]);
  expect(download.suggestedFilename()).toMatch(/^hive86-.*\.hive86$/);
  const file = testInfo.outputPath("guest.hive86");
  await download.saveAs(file);
  await expect(first.locator("#snapshot-info")).toHaveText(/^saved [\d.]+ MiB: \d+ pages stored/);

  // The second tab boots its own guest, then takes over the first one's.
  const second = await context.newPage();
  await bootDemo(second);
  await second.locator("#snapshot-restore").setInputFiles(file);
  await expect(second.locator("#snapshot-info")).toHaveText(/^restored [\d.]+ MiB/);
  const mark = await runAndCapture(second, "cat /tmp/mark", /^(snap-\d+)$/m);
  expect(mark).toBe("snap-21");
  await expect(second.locator("#vm-state")).toHaveText("running");

  // A damaged file is refused and the running guest is left alone.
  const damaged = testInfo.outputPath("damaged.hive86");
  writeFileSync(damaged, readFileSync(file).subarray(0, 4096));
  await second.locator("#snapshot-restore").setInputFiles(damaged);
  await expect(second.locator("#snapshot-info")).toHaveText(/^not restored: .*truncated/);
  expect(await runAndCapture(second, "echo alive-$((2*2))", /^(alive-4)$/m)).toBe("alive-4");
});
