// What the memory heatmap costs the guest: the demo page in Chromium with a
// CPU-bound loop in the guest, its speed (the page's MIPS readout) with the
// heatmap on and off (?heatmap=off), in alternating pairs.
import { CHROMIUM, CHROMIUM_ARGS, CHROMIUM_PERMISSIONS } from "../chromium.mjs";
import { startPage } from "./migration-bench.mjs";

const WARMUP_MS = 2000;
const SAMPLE_MS = 8000;

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The guest's MIPS while it spins, sampled from the page's readout. */
async function spinningMips(browser, url) {
  const context = await browser.newContext({ permissions: CHROMIUM_PERMISSIONS });
  try {
    const page = await context.newPage();
    await page.goto(url);
    await page.waitForFunction(() => document.body.dataset.bootState === "prompt", null, {
      timeout: 120_000,
    });
    await page.locator("#terminal").click();
    await page.keyboard.type("while :; do :; done &\n");
    await page.waitForTimeout(WARMUP_MS);
    const samples = [];
    const end = Date.now() + SAMPLE_MS;
    while (Date.now() < end) {
      await page.waitForTimeout(500);
      samples.push(Number(await page.locator("#vm-mips").textContent()));
    }
    return median(samples.filter((value) => value > 0));
  } finally {
    await context.close();
  }
}

export async function benchHeatmap({ root, pairs, log }) {
  const server = await startPage(root, log);
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    const on = [];
    const off = [];
    for (let i = 0; i < pairs; i++) {
      // Alternate which goes first: both see the same machine load.
      const order = i % 2 === 0 ? ["on", "off"] : ["off", "on"];
      for (const mode of order) {
        const url = `${server.base}/${mode === "off" ? "?heatmap=off" : ""}`;
        const mips = await spinningMips(browser, url);
        (mode === "on" ? on : off).push(mips);
        log(`  heatmap ${mode}, pair ${i + 1}/${pairs}: ${mips.toFixed(1)} MIPS`);
      }
    }
    return { on, off };
  } finally {
    await browser.close();
    server.stop();
  }
}

export function reportHeatmap({ on, off }) {
  const ratio = median(on) / median(off);
  const paired = median(on.map((value, i) => value / off[i]));
  console.log("");
  console.log(
    "memory heatmap (4 frames a second) against the guest's speed, a shell loop spinning",
  );
  console.log("| heatmap | MIPS (median) | runs |");
  console.log("| ------- | ------------: | ---- |");
  console.log(
    `| off     | ${median(off).toFixed(1).padStart(13)} | ${off.map((v) => v.toFixed(1)).join(", ")} |`,
  );
  console.log(
    `| on      | ${median(on).toFixed(1).padStart(13)} | ${on.map((v) => v.toFixed(1)).join(", ")} |`,
  );
  console.log(
    `on / off: ${ratio.toFixed(3)} (medians), ${paired.toFixed(3)} (median of paired runs)`,
  );
  return { date: new Date().toISOString(), on, off, ratio, pairedRatio: paired };
}
