// The migration bench: the demo page (served as `npm start` serves it) in two
// tabs of headless Chromium, the Linux guest moved from one to the other over
// the WebRTC data channel under three workloads, with and without the
// balloon, and with verify on; in the same run, the raw data channel rate
// worker to worker (the page tests/e2e/pages/peer-link.html streams it).
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import { CHROMIUM, CHROMIUM_ARGS, CHROMIUM_PERMISSIONS } from "../chromium.mjs";

const MiB = 1024 * 1024;
const RAW_STREAM_BYTES = 32 * MiB;

/** The workloads of the migration issue, typed at the guest's shell. */
export const WORKLOADS = {
  idle: null,
  steady: "while :; do dd if=/dev/urandom of=/dev/shm/x bs=64k count=16 2>/dev/null; done &",
  fast: "i=0; while :; do i=$((i+1)); (echo $i; cat /bin/busybox /bin/busybox /bin/busybox /bin/busybox) > /dev/shm/x; done &",
};

const SCENARIOS = [
  { name: "idle", workload: "idle" },
  { name: "steady", workload: "steady" },
  { name: "fast", workload: "fast" },
  { name: "idle, balloon 64 MiB", workload: "idle", balloonMiB: 64 },
  { name: "idle, verify on", workload: "idle", verify: true },
];

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export async function startPage(root, log) {
  const [port, signalPort] = [await freePort(), await freePort()];
  const child = spawn(
    process.execPath,
    [
      join(root, "tools", "start.mjs"),
      "--port",
      String(port),
      "--strictPort",
      "--host",
      "127.0.0.1",
    ],
    { cwd: root, env: { ...process.env, HIVE86_SIGNAL_PORT: String(signalPort) }, stdio: "pipe" },
  );
  let output = "";
  child.stdout.on("data", (chunk) => (output += chunk));
  child.stderr.on("data", (chunk) => (output += chunk));
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/`)).ok) break;
    } catch {
      // not up yet
    }
    if (i > 600 || child.exitCode !== null)
      throw new Error(`the page server did not start:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  log(`  page served at ${base}`);
  return { base, stop: () => child.kill("SIGTERM") };
}

async function waitFor(page, predicate, arg, timeoutMs) {
  await page.waitForFunction(predicate, arg, { timeout: timeoutMs });
}

async function typeLine(page, text) {
  await page.locator("#terminal").click();
  await page.keyboard.type(text);
  await page.keyboard.press("Enter");
}

/** One migration from a freshly booted tab to a receiving one; returns the source's trace. */
async function migrateOnce(browser, base, scenario) {
  const context = await browser.newContext({
    permissions: CHROMIUM_PERMISSIONS,
    viewport: { width: 1280, height: 720 },
  });
  try {
    const source = await context.newPage();
    const target = await context.newPage();
    await source.goto(`${base}/`);
    await target.goto(`${base}/#receive`);
    await waitFor(source, () => document.body.dataset.bootState === "prompt", null, 120_000);
    const command = WORKLOADS[scenario.workload];
    if (command) await typeLine(source, command);
    if (scenario.balloonMiB) {
      await source.locator("#tab-balloon").click();
      const slider = source.locator("#balloon-target");
      await waitFor(
        source,
        () => !document.querySelector("#balloon-target").disabled,
        null,
        30_000,
      );
      await slider.fill(String(128 - scenario.balloonMiB));
      await slider.dispatchEvent("change");
      const pages = String((scenario.balloonMiB * MiB) / 4096);
      await waitFor(
        source,
        (want) => document.querySelector("#balloon-pages").textContent === want,
        pages,
        60_000,
      );
    }
    // Settled: the workload runs, the boot's freed memory has been reported.
    await source.waitForTimeout(3000);
    await source.locator("#tab-migration").click();
    await source.locator("#migrate-verify").setChecked(Boolean(scenario.verify));
    const peer = source.locator("#peer-list li", { hasText: /receiving/ });
    await peer.getByRole("button").click();
    await waitFor(
      source,
      () => document.body.dataset.migration !== "active" && document.body.dataset.migration,
      null,
      120_000,
    );
    const trace = await source.evaluate(() => window.hive86.lastTrace);
    if (trace?.outcome !== "completed") {
      throw new Error(`${scenario.name}: the migration did not complete: ${trace?.reason}`);
    }
    await waitFor(target, () => document.body.dataset.bootState === "prompt", null, 30_000);
    return trace;
  } finally {
    await context.close();
  }
}

/** MB/s of one data channel, worker to worker, the way a migration uses it. */
async function rawChannelRate(browser, base) {
  const context = await browser.newContext({ permissions: CHROMIUM_PERMISSIONS });
  try {
    const [sender, receiver] = [await context.newPage(), await context.newPage()];
    for (const page of [sender, receiver]) {
      await page.goto(`${base}/tests/e2e/pages/peer-link.html`);
      await page.waitForFunction(() => "peerLinkTest" in window);
    }
    await sender.evaluate(() => window.peerLinkTest.startDirectory("bench sender"));
    const receiverId = await receiver.evaluate(() =>
      window.peerLinkTest.startDirectory("bench receiver"),
    );
    await receiver.evaluate((bytes) => window.peerLinkTest.acceptStreams(bytes), RAW_STREAM_BYTES);
    await sender.waitForFunction(() => window.peerLinkTest.peers()[0]?.receiving === true);
    const sent = await sender.evaluate(
      ([tabId, bytes]) => window.peerLinkTest.streamToTab(tabId, bytes),
      [receiverId, RAW_STREAM_BYTES],
    );
    const received = await receiver.evaluate(() => window.peerLinkTest.incomingReport());
    if (received.bytes !== RAW_STREAM_BYTES || received.mismatchAt !== -1) {
      throw new Error("the raw data channel stream arrived damaged");
    }
    return RAW_STREAM_BYTES / 1e6 / ((received.finishedAt - sent.startedAt) / 1000);
  } finally {
    await context.close();
  }
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Runs every scenario `runs` times (and the raw rate before and after); returns the samples. */
export async function benchMigration({ root, runs, log, only = null }) {
  const scenarios = only ? SCENARIOS.filter((s) => only.includes(s.name)) : SCENARIOS;
  if (scenarios.length === 0)
    throw new Error(`no migration scenario is called ${only.join(" or ")}`);
  const server = await startPage(root, log);
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    const rawRates = [await rawChannelRate(browser, server.base)];
    log(`  raw data channel, worker to worker: ${rawRates[0].toFixed(1)} MB/s`);
    const samples = Object.fromEntries(scenarios.map((s) => [s.name, []]));
    for (let i = 0; i < runs; i++) {
      for (const scenario of scenarios) {
        const trace = await migrateOnce(browser, server.base, scenario);
        samples[scenario.name].push(trace);
        log(
          `  ${scenario.name} ${i + 1}/${runs}: total ${trace.totalMs.toFixed(0)} ms, downtime ` +
            `${trace.downtimeMs.toFixed(1)} ms, ${trace.rounds.length} rounds, ` +
            `${((trace.totals.wireBytes + trace.totals.stateBytes) / 1e6).toFixed(2)} MB; ` +
            `handshake ${trace.rounds[0].startMs.toFixed(0)} ms, round 0 ${trace.rounds[0].durationMs.toFixed(0)} ms`,
        );
      }
    }
    rawRates.push(await rawChannelRate(browser, server.base));
    log(`  raw data channel, worker to worker (after): ${rawRates[1].toFixed(1)} MB/s`);
    return { browserVersion: browser.version(), rawRates, samples };
  } finally {
    await browser.close();
    server.stop();
  }
}

/** Prints the table and returns it as JSON for results.json. */
export function reportMigration({ browserVersion, rawRates, samples }) {
  const raw = median(rawRates);
  const rows = Object.entries(samples).map(([name, traces]) => {
    const ramBytes = traces[0].ramBytes;
    const pick = (f) => median(traces.map(f));
    const totalMs = pick((t) => t.totalMs);
    return {
      name,
      runs: traces.length,
      totalMs,
      downtimeMs: pick((t) => t.downtimeMs),
      maxDowntimeMs: Math.max(...traces.map((t) => t.downtimeMs)),
      rounds: pick((t) => t.rounds.length),
      wireBytes: pick((t) => t.totals.wireBytes + t.totals.stateBytes),
      wireOverRam: pick((t) => (t.totals.wireBytes + t.totals.stateBytes) / ramBytes),
      effectiveOverRaw: pick((t) => ramBytes / 1e6 / (t.totalMs / 1000)) / raw,
      minThrottle: Math.min(...traces.flatMap((t) => t.rounds.map((r) => r.throttle))),
      ballooned: pick((t) => t.totals.balloonedPages),
      verified: traces.every((t) => t.verify === null || t.verify.match),
      harvestMs: traces.flatMap((t) => t.rounds.filter((r) => r.round > 0).map((r) => r.harvestMs)),
    };
  });
  console.log("");
  console.log(
    `live migration of the 128 MiB Linux guest, tab to tab over a WebRTC data channel ` +
      `(Chromium ${browserVersion}; medians of ${rows[0]?.runs} runs; raw channel ${raw.toFixed(1)} MB/s, ` +
      `worker to worker, measured in the same run: ${rawRates.map((r) => r.toFixed(1)).join(" and ")})`,
  );
  console.log(
    "| workload             | total (ms) | downtime (ms) | max downtime | rounds | on the wire | wire / RAM | effective / raw | lowest throttle |",
  );
  console.log(
    "| -------------------- | ---------: | ------------: | -----------: | -----: | ----------: | ---------: | --------------: | --------------: |",
  );
  for (const r of rows) {
    console.log(
      `| ${r.name.padEnd(20)} | ${r.totalMs.toFixed(0).padStart(10)} | ${r.downtimeMs.toFixed(1).padStart(13)} | ` +
        `${r.maxDowntimeMs.toFixed(1).padStart(12)} | ${String(r.rounds).padStart(6)} | ` +
        `${(r.wireBytes / 1e6).toFixed(2).padStart(8)} MB | ${r.wireOverRam.toFixed(3).padStart(10)} | ` +
        `${r.effectiveOverRaw.toFixed(1).padStart(15)} | ${r.minThrottle.toFixed(2).padStart(15)} |`,
    );
  }
  const harvests = rows.flatMap((r) => r.harvestMs);
  if (harvests.length > 0) {
    console.log(
      `dirty log harvest (the core's bitmap into the migration's page set, guest running): ` +
        `median ${median(harvests).toFixed(2)} ms, max ${Math.max(...harvests).toFixed(2)} ms over ${harvests.length} rounds`,
    );
  }
  const idle = rows.find((r) => r.name === "idle");
  const verify = rows.find((r) => r.name === "idle, verify on");
  const balloon = rows.find((r) => r.name === "idle, balloon 64 MiB");
  if (idle && verify) {
    console.log(
      `verify (digests of all RAM and the state on both sides) adds ${(verify.downtimeMs - idle.downtimeMs).toFixed(1)} ms ` +
        `of downtime to the idle guest's move; every verified move matched: ${verify.verified}`,
    );
  }
  if (idle && balloon) {
    console.log(
      `the balloon (64 MiB held) changes the idle guest's bytes on the wire by a factor of ` +
        `${(balloon.wireBytes / idle.wireBytes).toFixed(2)} (free page reporting on, as by default)`,
    );
  }
  return {
    date: new Date().toISOString(),
    chromium: browserVersion,
    rawRatesMBps: rawRates,
    // The harvest times are in the traces already.
    rows: rows.map((row) => ({ ...row, harvestMs: undefined })),
    traces: samples,
  };
}
