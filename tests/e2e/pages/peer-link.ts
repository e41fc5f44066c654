// The page side of tests/e2e/peer-link.spec.ts: what a hive86 page will do to
// hand a guest to another one, without the VM: find the peer (tab directory
// or signaling server), open a peer link, give its channel to a worker.
import { openDataChannelTransport } from "../../../src/migration/transports/data-channel.ts";
import { openPeerLink, type PeerLink, type PeerRole } from "../../../src/ui/peer-link.ts";
import { SignalingServerClient } from "../../../src/ui/signaling/server-client.ts";
import { TabDirectory } from "../../../src/ui/signaling/tab-directory.ts";
import type { StreamJob, StreamReport } from "./peer-link-worker.ts";

let directory: TabDirectory | null = null;
let incomingReport: Promise<StreamReport> | null = null;
let server: SignalingServerClient | null = null;
// The page must hold its connections while the workers use their channels.
const links: PeerLink[] = [];

/** Hands a still-connecting channel to a fresh worker and waits for its report. */
function streamInWorker(link: PeerLink, role: StreamJob["role"], totalBytes: number) {
  const worker = new Worker(new URL("./peer-link-worker.ts", import.meta.url), { type: "module" });
  const job: StreamJob = { channel: link.channel, role, totalBytes };
  worker.postMessage(job, [link.channel as unknown as Transferable]);
  return new Promise<StreamReport>((resolve, reject) => {
    worker.onmessage = (event: MessageEvent<{ report?: StreamReport; error?: string }>) => {
      worker.terminate();
      if (event.data.report) resolve(event.data.report);
      else reject(new Error(event.data.error));
    };
    worker.onerror = (event) => reject(new Error(`worker failed: ${event.message}`));
  });
}

const testPage = {
  startDirectory(label: string): string {
    directory = new TabDirectory({ label, receiving: false, state: "empty" });
    return directory.tabId;
  },

  peers() {
    return directory!.peers;
  },

  acceptStreams(totalBytes: number): void {
    directory!.update({ receiving: true });
    directory!.onincoming = (_from, signaling) => {
      const link = openPeerLink(signaling, "answerer");
      links.push(link);
      incomingReport = streamInWorker(link, "receiver", totalBytes);
    };
  },

  async streamToTab(tabId: string, totalBytes: number): Promise<StreamReport> {
    const link = openPeerLink(directory!.signalingTo(tabId), "offerer");
    links.push(link);
    const report = streamInWorker(link, "sender", totalBytes);
    await link.connected;
    return report;
  },

  incomingReport(): Promise<StreamReport> {
    if (!incomingReport) throw new Error("no link came in");
    return incomingReport;
  },

  async linkToTabExpectingFailure(tabId: string): Promise<string> {
    const link = openPeerLink(directory!.signalingTo(tabId), "offerer", { timeoutMs: 10_000 });
    return link.connected.then(
      () => "connected",
      (error: Error) => error.message,
    );
  },

  async createRoom(url: string): Promise<string> {
    server = await SignalingServerClient.connect(url);
    return server.createRoom();
  },

  async joinRoom(url: string, code: string): Promise<void> {
    server = await SignalingServerClient.connect(url);
    await server.join(code);
  },

  async connectionError(url: string): Promise<string> {
    return SignalingServerClient.connect(url, 5000).then(
      () => "connected",
      (error: Error) => error.message,
    );
  },

  /** Peer link through the room, then `count` messages each way on the page's own thread. */
  async exchangeOverRoom(role: PeerRole, count: number): Promise<string[]> {
    await server!.waitForPeer(30_000);
    const link = openPeerLink(server!.signaling, role);
    links.push(link);
    // Listen before the channel can open: a message that arrives with no listener is lost.
    const opening = openDataChannelTransport(link.channel, 30_000);
    await link.connected;
    const transport = await opening;
    server!.close(); // the link no longer needs the server
    const encoder = new TextEncoder();
    for (let i = 0; i < count; i++) transport.send(encoder.encode(`${role} #${i}`));
    transport.send(encoder.encode("done"));
    const received: string[] = [];
    for (;;) {
      const text = new TextDecoder().decode(await transport.receive(30_000));
      if (text === "done") break;
      received.push(text);
    }
    return received;
  },
};

declare global {
  interface Window {
    peerLinkTest: typeof testPage;
  }
}
window.peerLinkTest = testPage;
