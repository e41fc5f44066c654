// The mission's own test: a running Linux guest moves live between two tabs
// over a WebRTC data channel, and back, while a process in it prints a
// counter. After each move the guest has the same boot id, its uptime and
// counter carried on across no more than the downtime (plus a second), the
// shell answers, kvm-clock is still its clock and the kernel did not complain.
import { CHROMIUM_PERMISSIONS } from "../../tools/chromium.mjs";
import { expect, test, type Page } from "@playwright/test";
import {
  lastTick,
  migrate,
  openReceiver,
  read,
  run,
  type Trace,
  startSlowMigration,
} from "./migration-helpers.ts";
import { bootDemo, consoleText } from "./page-helpers.ts";

/** The counter's ticks as [count, guest uptime] pairs, in a stretch of console text. */
function ticks(text: string): Array<[number, number]> {
  return [...text.matchAll(/^tick (\d+) ([\d.]+)$/gm)].map((m) => [Number(m[1]), Number(m[2])]);
}

/**
 * The counter went on across the move: the destination's first tick follows
 * the source's last, no reset, and the guest-time gap between them is at most
 * the downtime plus a second.
 */
async function checkTicksAcross(from: Page, to: Page, downtimeMs: number): Promise<void> {
  const sent = (await consoleText(from)).split("[hive86: the guest moved").at(-2)!;
  const [lastCount, lastUptime] = ticks(sent).at(-1)!;
  let arrived: Array<[number, number]> = [];
  await expect
    .poll(async () => {
      arrived = ticks((await consoleText(to)).split("[hive86: a guest arrived").at(-1)!);
      return arrived.length;
    })
    .toBeGreaterThan(3);
  const [firstCount, firstUptime] = arrived[0]!;
  expect(firstCount).toBe(lastCount + 1);
  expect(firstUptime - lastUptime).toBeLessThan(0.1 + downtimeMs / 1000 + 1);
  expect(firstUptime).toBeGreaterThan(lastUptime);
}

async function checkMoved(
  page: Page,
  before: { bootId: string; uptime: number; tick: number; at: number },
  downtimeMs: number,
): Promise<void> {
  const hostSeconds = (Date.now() - before.at) / 1000;
  expect(await read(page, "$(cat /proc/sys/kernel/random/boot_id)")).toBe(before.bootId);
  const uptime = Number(await read(page, "$(cut -d' ' -f1 /proc/uptime)"));
  // Uptime went on with host time: the move cost at most the downtime plus a second.
  expect(uptime).toBeGreaterThan(before.uptime);
  expect(hostSeconds - (uptime - before.uptime)).toBeLessThan(downtimeMs / 1000 + 1);
  await expect.poll(() => lastTick(page)).toBeGreaterThan(before.tick + 5);
  expect(
    await read(page, "$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"),
  ).toBe("kvm-clock");
  expect(await read(page, "$(dmesg | grep -ciE 'unstable|soft lockup|watchdog|hung task')")).toBe(
    "0",
  );
  expect(await read(page, "answer-$((6*7))")).toBe("answer-42");
}

async function snapshotOf(page: Page) {
  const bootId = await read(page, "$(cat /proc/sys/kernel/random/boot_id)");
  const uptime = Number(await read(page, "$(cut -d' ' -f1 /proc/uptime)"));
  return { bootId, uptime, tick: await lastTick(page), at: Date.now() };
}

test("a running guest moves from tab A to tab B and back, keeping its processes and clock", async ({
  context,
}) => {
  const a = await context.newPage();
  const b = await context.newPage();
  const errors: string[] = [];
  for (const page of [a, b]) page.on("pageerror", (error) => errors.push(error.message));
  await bootDemo(a);
  await openReceiver(b);
  await run(
    a,
    "stty cols 200; (i=0; while :; do i=$((i+1)); echo tick $i $(cut -d' ' -f1 /proc/uptime); sleep 0.1; done) &",
    /(tick 5 )/,
  );

  const beforeAB = await snapshotOf(a);
  const ab = await migrate(a, b);
  await checkTicksAcross(a, b, ab.downtimeMs!);
  expect(ab.downtimeMs).toBeGreaterThan(0);
  await expect(b.locator("#result-downtime")).toHaveText(/^\d+\.\d$/);
  await expect(a.locator("#migration-rounds li").first()).toContainText("round 0");
  await checkMoved(b, beforeAB, ab.downtimeMs!);
  // The source tab is empty now: its guest lives in B.
  await expect(a.locator("#vm-state")).toHaveText("empty");
  await expect(a.locator("#boot-guest")).toBeVisible();

  await a.locator("#receive-switch").check();
  const beforeBA = await snapshotOf(b);
  const ba = await migrate(b, a);
  await checkTicksAcross(b, a, ba.downtimeMs!);
  await checkMoved(a, beforeBA, ba.downtimeMs!);
  expect(errors).toEqual([]);
});

test("a tab that is not receiving refuses a guest, and the guest stays where it was", async ({
  context,
}) => {
  const a = await context.newPage();
  const b = await context.newPage();
  await bootDemo(a);
  await b.goto("/#receive");
  await b.locator("#receive-switch").uncheck();
  const target = a.locator("#peer-list li").filter({ hasText: /empty/ });
  await expect(target).toHaveCount(1);
  await target.getByRole("button", { name: /migrate/i }).click();
  await expect(a.locator("#migration-status")).toHaveText(/not moved: .*not receiving guests/);
  expect(await read(a, "still-$((2+3))")).toBe("still-5");
  await expect(b.locator("body")).toHaveAttribute("data-boot-state", "waiting");
});

test("with the balloon inflated by 64 MiB the move sends fewer bytes", async ({ context }) => {
  // Without free page reporting, which would zero freed memory by itself
  // (on by default): the balloon alone decides what is left to send.
  const a = await context.newPage();
  const b = await context.newPage();
  await a.goto("/?reporting=off");
  await expect(a.locator("body")).toHaveAttribute("data-boot-state", "prompt");
  await b.goto("/?reporting=off#receive");
  // ~20 MB written and freed: stale data in free memory, sent unless the balloon takes it.
  const fill =
    "i=0; while [ $i -lt 10 ]; do cat /bin/busybox >> /dev/shm/f; i=$((i+1)); done; rm /dev/shm/f";
  await run(a, `${fill}; echo filled-$((1+1))`, /(filled-2)/);
  const plain = await migrate(a, b);

  await a.locator("#receive-switch").check();
  await b.locator("#tab-balloon").click();
  const slider = b.locator("#balloon-target");
  await expect(slider).toBeEnabled();
  await slider.fill("64");
  await slider.dispatchEvent("change");
  await expect(b.locator("#balloon-pages")).toHaveText("16384", { timeout: 60_000 });
  const ballooned = await migrate(b, a);
  expect(ballooned.totals.balloonedPages).toBeGreaterThanOrEqual(16384);
  const bytes = (t: Trace) => t.totals.wireBytes + t.totals.stateBytes;
  expect(bytes(plain)).toBeGreaterThan(12e6);
  expect(bytes(ballooned)).toBeLessThan(bytes(plain) * 0.9);
  await expect(a.locator("#result-ballooned")).toHaveText(/^6\d\.\d\d MB$/);
  await expect(a.locator("#result-ballooned")).toHaveAttribute("title", /^1\d,\d{3} pages$/);
});

test("two browser contexts, which share no BroadcastChannel, pair by code and migrate", async ({
  context,
  browser,
}) => {
  const a = await context.newPage();
  const other = await browser.newContext({ permissions: CHROMIUM_PERMISSIONS });
  try {
    const b = await other.newPage();
    await bootDemo(a);
    await openReceiver(b);
    // Neither sees the other through the tab directory.
    await expect(a.locator("#peer-list")).toContainText("no other hive86 tab");

    await a.locator(".pairing summary").click();
    await a.locator("#pair-create").click();
    await expect(a.locator("#pair-status")).toHaveText(/^code \w{6}: /);
    const code = /^code (\w{6})/.exec((await a.locator("#pair-status").textContent())!)![1]!;
    await b.locator(".pairing summary").click();
    await b.locator("#pair-code").fill(code.toLowerCase());
    await b.locator("#pair-join").getByRole("button", { name: "Join" }).click();
    await expect(b.locator("#pair-status")).toHaveText("paired with another browser");
    await expect(a.locator("#pair-status")).toHaveText("paired with another browser");

    await run(a, "echo carried-$((7*6)) > /tmp/mark; echo ok-$((1+1))", /(ok-2)/);
    await a.locator("#peer-list li", { hasText: "paired browser" }).getByRole("button").click();
    await expect(a.locator("body")).toHaveAttribute("data-migration", "completed");
    await expect(b.locator("body")).toHaveAttribute("data-boot-state", "prompt");
    expect(await read(b, "$(cat /tmp/mark)")).toBe("carried-42");
  } finally {
    await other.close();
  }
});

test("a migration cancelled on the sending tab leaves the guest running there", async ({
  context,
}) => {
  const a = await context.newPage();
  const b = await context.newPage();
  await bootDemo(a);
  await openReceiver(b);
  await startSlowMigration(a);
  await a.locator("#migration-cancel").click();
  await expect(a.locator("#migration-status")).toHaveText(
    /not moved, the guest runs on here: cancelled on this side/,
  );
  await expect(a.locator("#migration-cancel")).toBeHidden();
  await expect(b.locator("#migration-status")).toHaveText(
    /nothing arrived: .*cancelled on this side/,
  );
  expect(await read(a, "alive-$((4+4))")).toBe("alive-8");
  await expect(b.locator("body")).toHaveAttribute("data-boot-state", "waiting");
});
