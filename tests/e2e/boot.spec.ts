// The demo page boots the Linux guest in a Web Worker; its console is an
// xterm.js terminal a person can type into.
import { expect, test } from "@playwright/test";
import { terminalText } from "./page-helpers.ts";

test("the demo boots Linux to a shell and runs a typed command", async ({ page }) => {
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  await page.goto("/");
  expect(await page.evaluate(() => globalThis.crossOriginIsolated)).toBe(true);

  // The progress indicator moves while the kernel boots, then reports the shell.
  await expect(page.locator("body")).toHaveAttribute("data-boot-state", "booting");
  await expect(page.locator("body")).toHaveAttribute("data-boot-state", "prompt");
  await expect(page.locator("#boot-stage")).toHaveText("shell ready");
  expect(await page.locator("#boot-progress").evaluate((p: HTMLProgressElement) => p.value)).toBe(
    1,
  );

  await page.locator("#terminal").click();
  await page.keyboard.type("echo hive86-$((6*7))-ok");
  await page.keyboard.press("Enter");
  await expect.poll(() => terminalText(page)).toMatch(/^hive86-42-ok$/m);

  await page.keyboard.type("uname -m");
  await page.keyboard.press("Enter");
  await expect.poll(() => terminalText(page)).toMatch(/^i686$/m);

  await expect(page.locator("#vm-state")).toHaveText("running");
  expect(errors).toEqual([]);
});
