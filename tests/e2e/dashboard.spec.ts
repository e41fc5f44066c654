// The page a presenter shows: the heatmap follows the guest's writes, a
// migration's rounds and downtime show up in the charts (with the heatmap
// running all the while, the RAM digests match), a saved trace replays in a
// page with no guest, and the presenter's shortcuts work. Each state is
// photographed at 1280x720 (test-results/, for a person to look at).
import { readFileSync } from "node:fs";
import { expect, test, type Page, type TestInfo } from "@playwright/test";
import { bootDemo, runAndCapture } from "./page-helpers.ts";

test.use({ viewport: { width: 1280, height: 720 } });

/** Shades of the heatmap's latest frame (machine/memory-view.ts: 16.. = written). */
async function shades(page: Page): Promise<{ written: number; sent: number; ballooned: number }> {
  return page.evaluate(() => {
    const frame = (window as unknown as { hive86: { heatmap: { current: Uint8Array | null } } })
      .hive86.heatmap.current;
    const counts = { written: 0, sent: 0, ballooned: 0 };
    for (const shade of frame ?? []) {
      if (shade >= 16) counts.written++;
      else if (shade === 3) counts.sent++;
      else if (shade === 2) counts.ballooned++;
    }
    return counts;
  });
}

async function photograph(page: Page, info: TestInfo, name: string): Promise<void> {
  await page.screenshot({ path: info.outputPath(`${name}.png`) });
}

async function migrateTo(page: Page): Promise<void> {
  await page.locator("#tab-migration").click();
  await page
    .locator("#peer-list li", { hasText: /receiving/ })
    .getByRole("button")
    .click();
  await expect(page.locator("body")).toHaveAttribute("data-migration", "completed");
}

test("the heatmap shows the guest writing memory", async ({ page }, info) => {
  await bootDemo(page);
  await expect
    .poll(async () => (await shades(page)).written, { timeout: 10_000 })
    .toBeLessThan(500);
  await page.locator("#terminal").click();
  await page.keyboard.type(
    "dd if=/dev/urandom of=/dev/shm/x bs=1M count=8 2>/dev/null; echo wrote-$((4*2))",
  );
  await page.keyboard.press("Enter");
  // 8 MiB is 2,048 pages: written over some seconds, each glowing for 4 s after its write.
  let most = 0;
  await expect
    .poll(
      async () => {
        most = Math.max(most, (await shades(page)).written);
        return most;
      },
      { intervals: [250] },
    )
    .toBeGreaterThan(1000);
  await photograph(page, info, "heatmap-during-dd");
  await expect.poll(() => page.locator("#terminal .xterm-rows").innerText()).toMatch(/^wrote-8$/m);
  // Hovering a cell names its page.
  const box = (await page.locator("#heatmap").boundingBox())!;
  await page.mouse.move(box.x + box.width / 2, box.y + 5);
  await expect(page.locator("#heatmap-info")).toHaveText(
    /^page \d+: 0x[0-9a-f]{8}-0x[0-9a-f]{8}, /,
  );
});

test("after a migration the charts show its rounds and the downtime; its trace replays with no guest", async ({
  context,
}, info) => {
  const a = await context.newPage();
  const b = await context.newPage();
  await bootDemo(a);
  await b.goto("/#receive");
  // A busy guest: several rounds, auto-converge.
  await runAndCapture(
    a,
    "i=0; while :; do i=$((i+1)); (echo $i; cat /bin/busybox /bin/busybox) > /dev/shm/x; done & echo busy-$((2+1))",
    /^(busy-3)/m,
  );
  await expect(a.locator("#migrate-verify")).toBeChecked(); // the heatmap runs all along
  await migrateTo(a);
  const trace = (await a.evaluate(
    () => (window as unknown as { hive86: { lastTrace: unknown } }).hive86.lastTrace,
  )) as { rounds: unknown[]; downtimeMs: number; verify: { match: boolean } };
  expect(trace.verify.match).toBe(true);
  await expect(a.locator("#result-downtime")).toHaveText(trace.downtimeMs.toFixed(1));
  await expect(a.locator("#migration-rounds li")).toHaveCount(trace.rounds.length);
  await expect(a.locator("#rounds-chart canvas")).toHaveCount(1);
  await expect(a.locator("#rates-chart canvas")).toHaveCount(1);
  await expect(a.locator("#rounds-chart .u-title")).toHaveText("pages and bytes per round");
  await photograph(a, info, "migration-source-after");
  await photograph(b, info, "migration-destination-after");
  // The guest's clock against the host's stays flat across the move, the move marked on it.
  await b.locator("#tab-clock").click();
  await expect
    .poll(async () => Math.abs(Number.parseFloat((await b.locator("#clock-drift").textContent())!)))
    .toBeLessThan(10);
  await expect(b.locator("#clock-flags")).toContainText("TSC_STABLE");
  await photograph(b, info, "migration-destination-clock");
  await b.locator("#tab-migration").click();

  const [download] = await Promise.all([
    a.waitForEvent("download"),
    a.locator("#trace-save").click(),
  ]);
  const file = info.outputPath("trace.json");
  await download.saveAs(file);
  const [charts] = await Promise.all([
    a.waitForEvent("download"),
    a.locator("#charts-save").click(),
  ]);
  expect(charts.suggestedFilename()).toMatch(/\.png$/);
  const saved = JSON.parse(readFileSync(file, "utf8")) as typeof trace;
  expect(saved.rounds.length).toBe(trace.rounds.length);

  // A fresh page, no guest at all, replays it slowly.
  const viewer = await context.newPage();
  await viewer.goto("/#receive");
  await viewer.locator("#receive-switch").uncheck();
  await viewer.locator("#replay-file").setInputFiles(file);
  await expect(viewer.locator("#replay-bar")).toBeVisible();
  await viewer.locator("#replay-speed").selectOption("0.1");
  await expect
    .poll(async () => (await shades(viewer)).sent, { timeout: 20_000 })
    .toBeGreaterThan(0);
  await photograph(viewer, info, "replay-mid");
  await viewer.locator("#replay-speed").selectOption("2");
  await expect(viewer.locator("#result-downtime")).toHaveText(trace.downtimeMs.toFixed(1), {
    timeout: 30_000,
  });
  await expect(viewer.locator("#migration-rounds li")).toHaveCount(trace.rounds.length);
  await expect(viewer.locator("#vm-state")).toHaveText("empty");
  await photograph(viewer, info, "replay-end");

  // A file that is not a trace is refused in words.
  await viewer.locator("#replay-file").setInputFiles({
    name: "junk.json",
    mimeType: "application/json",
    buffer: Buffer.from('{"version": 1, "rounds": "many"}'),
  });
  await expect(viewer.locator("#migration-status")).toHaveText(/^not replayed: /);
});

test("presenter mode and its shortcuts", async ({ context }, info) => {
  const a = await context.newPage();
  const b = await context.newPage();
  await bootDemo(a);
  await b.goto("/#receive");
  await a.locator("#panel-memory").click(); // keys go to the page, not the guest
  const rootFontPx = () =>
    a.evaluate(() => parseFloat(getComputedStyle(document.documentElement).fontSize));
  const normalPx = await rootFontPx();
  await a.keyboard.press("p");
  await expect(a.locator("body")).toHaveAttribute("data-presenter", "true");
  // Larger type everywhere: rem sizes follow the root's.
  expect(await rootFontPx()).toBeGreaterThan(normalPx);
  await photograph(a, info, "presenter");
  await a.keyboard.press("?");
  await expect(a.locator("#help")).toBeVisible();
  await photograph(a, info, "presenter-help");
  await a.keyboard.press("Escape");
  await expect(a.locator("#help")).toBeHidden();

  await a.keyboard.press("b");
  await expect(a.locator("#tab-balloon")).toHaveAttribute("aria-selected", "true");
  await expect(a.locator("#balloon-pages")).toHaveText("16384", { timeout: 60_000 });
  await expect.poll(async () => (await shades(a)).ballooned).toBe(16384);
  await photograph(a, info, "presenter-balloon");

  const [snapshot] = await Promise.all([a.waitForEvent("download"), a.keyboard.press("s")]);
  expect(snapshot.suggestedFilename()).toMatch(/\.hive86$/);

  await a.locator("#panel-memory").click();
  await a.keyboard.press("f");
  await expect(a.locator("body")).toHaveAttribute("data-maximized", "panel-memory");
  expect((await a.locator("#panel-memory").boundingBox())!.width).toBe(1280);
  await photograph(a, info, "presenter-memory-full-screen");
  await a.keyboard.press("f");
  await expect(a.locator("body")).not.toHaveAttribute("data-maximized", /.*/);

  await a.keyboard.press("m");
  await expect(a.locator("body")).toHaveAttribute("data-migration", "completed");
  await expect(b.locator("body")).toHaveAttribute("data-boot-state", "prompt");
  await photograph(a, info, "presenter-after-migration");

  // Typing in the console reaches the guest, not the shortcuts.
  await b.locator("#terminal").click();
  await b.keyboard.type("echo typed-p-$((1+1))");
  await b.keyboard.press("Enter");
  await expect(b.locator("body")).toHaveAttribute("data-presenter", "false");
  expect(await runAndCapture(b, "echo ok-$((2+2))", /^(ok-4)$/m)).toBe("ok-4");
});

test("the page at 1920x1080", async ({ browser }, info) => {
  const context = await browser.newContext({ viewport: { width: 1920, height: 1080 } });
  try {
    const page = await context.newPage();
    await bootDemo(page);
    await photograph(page, info, "full-hd");
    // Every panel is on screen, none overflows the window.
    for (const id of ["#panel-console", "#panel-memory", "#panel-side"]) {
      const box = (await page.locator(id).boundingBox())!;
      expect(box.x + box.width).toBeLessThanOrEqual(1920);
      expect(box.y + box.height).toBeLessThanOrEqual(1080);
    }
  } finally {
    await context.close();
  }
});

test("the console pastes with Ctrl-Shift-V and copies with Ctrl-Shift-C", async ({ browser }) => {
  const context = await browser.newContext({
    permissions: ["clipboard-read", "clipboard-write"],
    viewport: { width: 1280, height: 720 },
  });
  try {
    const page = await context.newPage();
    await bootDemo(page);
    await page.evaluate(() => navigator.clipboard.writeText("echo pasted-$((3*3))"));
    await page.locator("#terminal").click();
    await page.keyboard.press("Control+Shift+V");
    await page.keyboard.press("Enter");
    await expect
      .poll(() => page.locator("#terminal .xterm-rows").innerText())
      .toMatch(/^pasted-9$/m);
    await page.evaluate(() =>
      (
        window as unknown as { hive86: { terminal: { selectAll(): void } } }
      ).hive86.terminal.selectAll(),
    );
    await page.keyboard.press("Control+Shift+C");
    await expect
      .poll(() => page.evaluate(() => navigator.clipboard.readText()))
      .toMatch(/pasted-9/);
  } finally {
    await context.close();
  }
});
