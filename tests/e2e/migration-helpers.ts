// What the migration specs share: a tab waiting for a guest, commands typed
// into the guest and values read back, a move from one tab to another.
import { expect, type Page } from "@playwright/test";
import { terminalText } from "./page-helpers.ts";

export interface Trace {
  outcome: string;
  reason: string | null;
  downtimeMs: number | null;
  rounds: unknown[];
  totals: { wireBytes: number; stateBytes: number; balloonedPages: number };
  verify: { match: boolean } | null;
}

export async function openReceiver(page: Page): Promise<void> {
  await page.goto("/#receive");
  await expect(page.locator("body")).toHaveAttribute("data-boot-state", "waiting");
  await expect(page.locator("#receive-switch")).toBeChecked();
}

/** Types a command and waits until `pattern` (with a unique marker) shows; returns its first group. */
export async function run(page: Page, command: string, pattern: RegExp): Promise<string> {
  await page.locator("#terminal").click();
  await page.keyboard.type(command);
  await page.keyboard.press("Enter");
  let found = "";
  await expect
    .poll(async () => (found = pattern.exec(await terminalText(page))?.[1] ?? ""), {
      timeout: 30_000,
    })
    .not.toBe("");
  return found;
}

let marker = 0;
/** A value read from the guest, between markers the echoed command line cannot match. */
export async function read(page: Page, expression: string): Promise<string> {
  const n = ++marker;
  return run(page, `echo "@@$((${n}+0))@@${expression}@@"`, new RegExp(`@@${n}@@([^@\\n]*)@@`));
}

export async function migrate(from: Page, to: Page): Promise<Trace> {
  await from.locator("#tab-migration").click();
  const target = from.locator("#peer-list li", { hasText: /receiving/ });
  await expect(target).toHaveCount(1);
  await target.getByRole("button", { name: /migrate/i }).click();
  await expect(from.locator("body")).toHaveAttribute(
    "data-migration",
    /completed|abandoned|unknown/,
  );
  const trace = (await from.evaluate(
    () => (window as unknown as { hive86: { lastTrace: unknown } }).hive86.lastTrace,
  )) as Trace;
  expect(trace.outcome, trace.reason ?? "").toBe("completed");
  await expect(to.locator("body")).toHaveAttribute("data-boot-state", "prompt");
  await expect(from.locator("body")).toHaveAttribute("data-boot-state", "moved");
  return trace;
}

/** The counter the specs' guests print ("tick N"): the last one on the console. */
export async function lastTick(page: Page): Promise<number> {
  const ticks = [...(await terminalText(page)).matchAll(/tick (\d+)/g)];
  return Number(ticks.at(-1)?.[1] ?? -1);
}

/**
 * Starts moving `from`'s guest to the tab that receives over a link capped
 * at 0.5 MB/s: the guest's 3 MB take seconds, time to act mid-migration.
 * Resolves once round 0 shows.
 */
export async function startSlowMigration(from: Page): Promise<void> {
  await from.locator("#migrate-link").selectOption("0.5");
  await from
    .locator("#peer-list li", { hasText: /receiving/ })
    .getByRole("button")
    .click();
  await expect(from.locator("#migration-rounds li").first()).toBeVisible();
}
