// Peer links in Chromium: two tabs find each other through the tab directory
// and stream worker to worker over a data channel the page negotiated; two
// browser contexts (which share no BroadcastChannel) pair through the
// signaling server.
import { CHROMIUM_PERMISSIONS } from "../../tools/chromium.mjs";
import { expect, test, type Page } from "@playwright/test";
import { startSignalingServer, type SignalingServer } from "../../server/signaling.ts";
import type { StreamReport } from "./pages/peer-link-worker.ts";

const PAGE = "/tests/e2e/pages/peer-link.html";
const MiB = 1024 * 1024;

async function openTestPage(page: Page): Promise<void> {
  page.on("pageerror", (error) => console.log(`page error: ${error.message}`));
  await page.goto(PAGE);
  await page.waitForFunction(() => "peerLinkTest" in window);
}

test("two tabs find each other and stream 8 MiB worker to worker", async ({ context }) => {
  const [first, second] = [await context.newPage(), await context.newPage()];
  await Promise.all([openTestPage(first), openTestPage(second)]);
  const firstId = await first.evaluate(() => window.peerLinkTest.startDirectory("first tab"));
  const secondId = await second.evaluate(() => window.peerLinkTest.startDirectory("second tab"));

  // Each sees the other (and only the other), with what it announced.
  await expect
    .poll(() => first.evaluate(() => window.peerLinkTest.peers()))
    .toEqual([{ tabId: secondId, label: "second tab", receiving: false, state: "empty" }]);
  await expect
    .poll(() => second.evaluate(() => window.peerLinkTest.peers().map((peer) => peer.tabId)))
    .toEqual([firstId]);

  // A tab that does not accept links says so.
  const refusal = await first.evaluate(
    (tabId) => window.peerLinkTest.linkToTabExpectingFailure(tabId),
    secondId,
  );
  expect(refusal).toBe("the other side gave up: that tab does not accept links now");

  const total = 8 * MiB;
  await second.evaluate((bytes) => window.peerLinkTest.acceptStreams(bytes), total);
  await expect
    .poll(() => first.evaluate(() => window.peerLinkTest.peers()[0]?.receiving))
    .toBe(true);
  const sent: StreamReport = await first.evaluate(
    ([tabId, bytes]) => window.peerLinkTest.streamToTab(tabId, bytes),
    [secondId, total] as const,
  );
  const received: StreamReport = await second.evaluate(() => window.peerLinkTest.incomingReport());

  expect(sent.bytes).toBe(total);
  expect(received.bytes).toBe(total);
  expect(received.messages).toBe(sent.messages);
  expect(received.mismatchAt).toBe(-1);
  // Backpressure held the queue near the 128 KiB low-water mark (plus a message), far from Chromium's 16 MiB.
  expect(sent.mostBuffered).toBeGreaterThan(0);
  expect(sent.mostBuffered).toBeLessThanOrEqual(0.5 * MiB);
  // The sender's close reached the receiver with its reason.
  expect(received.closeReason).toBe("the other side closed: all bytes sent");

  const seconds = (received.finishedAt - sent.startedAt) / 1000;
  const rate = total / 1e6 / seconds;
  console.log(
    `data channel, worker to worker: ${(total / MiB).toFixed(0)} MiB in ${sent.messages} messages, ` +
      `${seconds.toFixed(2)} s, ${rate.toFixed(1)} MB/s; most buffered ${(sent.mostBuffered / MiB).toFixed(2)} MiB`,
  );
  test.info().annotations.push({ type: "throughput", description: `${rate.toFixed(1)} MB/s` });

  // A closing tab says goodbye: the other drops it at once, not after the 6 s silence.
  await second.close({ runBeforeUnload: true });
  await expect
    .poll(() => first.evaluate(() => window.peerLinkTest.peers()), { timeout: 4000 })
    .toEqual([]);
});

test.describe("through the signaling server", () => {
  let server: SignalingServer;

  test.beforeAll(async () => {
    server = await startSignalingServer({ host: "127.0.0.1", port: 0 });
  });

  test.afterAll(async () => {
    await server.close();
  });

  test("two browser contexts pair by code and exchange messages", async ({ browser, baseURL }) => {
    const contextOptions = { baseURL, permissions: CHROMIUM_PERMISSIONS };
    const [contextA, contextB] = [
      await browser.newContext(contextOptions),
      await browser.newContext(contextOptions),
    ];
    const [creator, joiner] = [await contextA.newPage(), await contextB.newPage()];
    await Promise.all([openTestPage(creator), openTestPage(joiner)]);

    const code = await creator.evaluate((url) => window.peerLinkTest.createRoom(url), server.url);
    expect(code).toMatch(/^[A-Z2-9]{6}$/);
    await joiner.evaluate(([url, typed]) => window.peerLinkTest.joinRoom(url, typed), [
      server.url,
      `${code.slice(0, 3).toLowerCase()}-${code.slice(3)}`,
    ] as const);

    const [fromJoiner, fromCreator] = await Promise.all([
      creator.evaluate(() => window.peerLinkTest.exchangeOverRoom("offerer", 50)),
      joiner.evaluate(() => window.peerLinkTest.exchangeOverRoom("answerer", 50)),
    ]);
    expect(fromJoiner).toEqual(Array.from({ length: 50 }, (_, i) => `answerer #${i}`));
    expect(fromCreator).toEqual(Array.from({ length: 50 }, (_, i) => `offerer #${i}`));

    // A wrong address fails with words, not a hang.
    const failure = await joiner.evaluate(
      (url) => window.peerLinkTest.connectionError(url),
      server.url.replace(/:\d+\//, ":1/"),
    );
    expect(failure).toMatch(/^cannot reach the signaling server at ws:\/\/127\.0\.0\.1:1\/signal/);

    await contextA.close();
    await contextB.close();
  });
});
