// Reliability in the browser: ten moves in a row between two tabs over the
// data channel, each verified (RAM and state digests equal on both sides)
// with the guest's counter going on and its boot id kept; and a destination
// tab closed mid-migration: the guest runs on where it was, the page says
// why in words, and a retry to another tab succeeds.
import { expect, test } from "@playwright/test";
import { CHROMIUM_PERMISSIONS } from "../../tools/chromium.mjs";
import {
  lastTick,
  migrate,
  openReceiver,
  read,
  run,
  startSlowMigration,
} from "./migration-helpers.ts";
import { bootDemo } from "./page-helpers.ts";

const MOVES = 10;

const COUNTER = "stty cols 200; (i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.2; done) &";

test(`${MOVES} moves in a row between two tabs, each verified`, async ({ context }) => {
  test.setTimeout(400_000);
  const pages = [await context.newPage(), await context.newPage()] as const;
  const errors: string[] = [];
  for (const page of pages) page.on("pageerror", (error) => errors.push(error.message));
  await bootDemo(pages[0]);
  await openReceiver(pages[1]);
  await run(pages[0], COUNTER, /(tick 3)\b/);
  const bootId = await read(pages[0], "$(cat /proc/sys/kernel/random/boot_id)");
  const downtimes: number[] = [];
  for (let move = 0; move < MOVES; move++) {
    const from = pages[move % 2]!;
    const to = pages[(move + 1) % 2]!;
    const tickBefore = await lastTick(from);
    const trace = await migrate(from, to);
    expect(trace.verify?.match, `move ${move + 1}`).toBe(true);
    downtimes.push(trace.downtimeMs!);
    await expect
      .poll(() => lastTick(to), { message: `move ${move + 1}` })
      .toBeGreaterThan(tickBefore);
    expect(await read(to, "$(cat /proc/sys/kernel/random/boot_id)")).toBe(bootId);
    await from.locator("#tab-migration").click();
    await from.locator("#receive-switch").check();
  }
  console.log(
    `${MOVES} tab-to-tab moves, all verified; downtime median ${median(downtimes).toFixed(1)} ms, max ${Math.max(...downtimes).toFixed(1)} ms`,
  );
  expect(errors).toEqual([]);
});

test("a destination tab closed mid-migration: the guest runs on, the page says why, a retry succeeds", async ({
  context,
}) => {
  const a = await context.newPage();
  const b = await context.newPage();
  await bootDemo(a);
  await openReceiver(b);
  await run(a, COUNTER, /(tick 3)\b/);
  await startSlowMigration(a);
  await b.close();
  await expect(a.locator("#migration-status")).toHaveText(
    /^not moved, the guest runs on here: .*(closed|went away|lost)/,
  );
  await expect(a.locator("body")).toHaveAttribute("data-boot-state", "prompt");
  await a.setViewportSize({ width: 1280, height: 720 });
  await a.screenshot({ path: test.info().outputPath("destination-closed.png") });
  const tick = await lastTick(a);
  await expect.poll(() => lastTick(a)).toBeGreaterThan(tick + 2);
  expect(await read(a, "still-$((2+3))")).toBe("still-5");

  const c = await context.newPage();
  await openReceiver(c);
  await a.locator("#migrate-link").selectOption("");
  const trace = await migrate(a, c);
  expect(trace.verify?.match).toBe(true);
  await expect.poll(() => lastTick(c)).toBeGreaterThan(tick + 2);
});

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[sorted.length >> 1]!;
}

test("the signaling server dies during pairing: the page says so, and pairing again works", async ({
  context,
  browser,
}) => {
  const a = await context.newPage();
  // The page's connection to /signal passes through here, so the test can cut it.
  let cut: (() => void) | null = null;
  await a.routeWebSocket(/\/signal/, (page) => {
    const server = page.connectToServer();
    cut = () => {
      void server.close();
      void page.close({ code: 1006 });
    };
  });
  const other = await browser.newContext({ permissions: CHROMIUM_PERMISSIONS });
  try {
    const b = await other.newPage();
    await bootDemo(a);
    await openReceiver(b);
    await a.locator(".pairing summary").click();
    await a.locator("#pair-create").click();
    await expect(a.locator("#pair-status")).toHaveText(/^code \w{6}: /);
    cut!();
    await expect(a.locator("#pair-status")).toHaveText(
      /^not paired: the connection to the signaling server was lost/,
    );
    await a.setViewportSize({ width: 1280, height: 720 });
    await a.screenshot({ path: test.info().outputPath("signaling-lost.png") });
    // The guest never noticed; pairing again works.
    expect(await read(a, "up-$((3+4))")).toBe("up-7");
    await a.locator("#pair-create").click();
    await expect(a.locator("#pair-status")).toHaveText(/^code \w{6}: /);
    const code = /^code (\w{6})/.exec((await a.locator("#pair-status").textContent())!)![1]!;
    await b.locator(".pairing summary").click();
    await b.locator("#pair-code").fill(code);
    await b.locator("#pair-join").getByRole("button", { name: "Join" }).click();
    await expect(a.locator("#pair-status")).toHaveText("paired with another browser");
    await a.locator("#peer-list li", { hasText: "paired browser" }).getByRole("button").click();
    await expect(a.locator("body")).toHaveAttribute("data-migration", "completed");
    await expect(b.locator("body")).toHaveAttribute("data-boot-state", "prompt");
    expect(await read(b, "there-$((1+1))")).toBe("there-2");
  } finally {
    await other.close();
  }
});
