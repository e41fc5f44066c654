// The page's migration controls: the other hive86 tabs of this browser (and
// a browser paired through the signaling server with a short code), a
// switch that lets guests in, a Migrate button per peer, and what a move did.
// The page only negotiates each WebRTC link; the VM's worker gets the data
// channel and runs the migration itself (src/worker/vm-worker.ts).
import * as Comlink from "comlink";
import type { IncomingProgress } from "../migration/destination.ts";
import type { MigrationProgress } from "../migration/source.ts";
import type { MigrationTrace } from "../migration/trace.ts";
import { describeTrace } from "../migration/trace-summary.ts";
import type { VmWorkerApi } from "../worker/vm-worker.ts";
import { Journal } from "./journal.ts";
import { MigrationView } from "./migration-view.ts";
import { openPeerLink } from "./peer-link.ts";
import { SignalingServerClient } from "./signaling/server-client.ts";
import type { SignalingChannel, SignalingMessage } from "./signaling/signaling.ts";
import { TabDirectory, type TabInfo } from "./signaling/tab-directory.ts";

export interface VmHandle {
  worker: Worker;
  vm: Comlink.Remote<VmWorkerApi>;
}

/** What the panel needs from the page. */
export interface MigrationHost {
  /** The worker running this tab's guest, or null when the tab is empty. */
  current(): VmHandle | null;
  /** A fresh worker for a guest that is about to arrive. */
  spawn(): VmHandle;
  /** The arrived guest runs in `next`, which becomes this tab's VM (any older one is dropped). */
  adopt(next: VmHandle, banner: string, journal: Journal): void;
  /** The guest's journey so far, which travels with it. */
  journal(): Journal;
  /** This tab's guest now runs elsewhere. */
  movedAway(banner: string): void;
  /** The console events an arriving guest's worker reports to (a comlink proxy). */
  readonly events: Parameters<VmWorkerApi["receive"]>[2];
}

/** Guests bigger than this are refused: a tab cannot count on more memory. */
const MAX_INCOMING_RAM = 1024 * 1024 * 1024;
const PAIRING_WAIT_MS = 10 * 60 * 1000;

type Target = { kind: "tab"; tab: TabInfo } | { kind: "remote" };

export class MigrationPanel {
  readonly directory: TabDirectory;
  /** The last migration's trace (either direction), for the console's hive86.lastTrace. */
  lastTrace: MigrationTrace | null = null;
  readonly view = new MigrationView<Target>();
  private receiving = false;
  private busy = false;
  /** While receiving: a worker with its wasm compiled, so an arriving guest's machine is built at once. */
  private standby: VmHandle | null = null;
  private remote: SignalingServerClient | null = null;

  constructor(
    private readonly host: MigrationHost,
    options: { receiving: boolean; state: string },
  ) {
    this.directory = new TabDirectory({
      label: Math.random().toString(36).slice(2, 6),
      receiving: options.receiving,
      state: options.state,
    });
    this.view.setSelf(`tab ${this.directory.self.label}`);
    this.setReceiving(options.receiving);
    this.view.onReceiveChange = (on) => this.setReceiving(on);
    this.view.onMigrate = (target) => void this.migrate(target);
    this.view.onPairCreate = () => void this.pair(null);
    this.view.onPairJoin = (code) => void this.pair(code);
    this.view.onCancel = () => void this.host.current()?.vm.cancelMigration();
    this.directory.onpeerschange = (peers) => this.renderPeers(peers);
    this.directory.onincoming = (from, signaling) =>
      this.incoming(from ? `tab ${from.label}` : "another tab", signaling);
    this.renderPeers([]);
  }

  /** The M shortcut: to the first tab that receives (or the paired browser). */
  migrateToFirstReceiver(): void {
    const tab = this.directory.peers.find((peer) => peer.receiving);
    if (tab) void this.migrate({ kind: "tab", tab });
    else if (this.remote) void this.migrate({ kind: "remote" });
    else this.view.setStatus("no other tab receives: switch on Receive in one first");
  }

  /** What this tab tells the others it is doing. */
  setState(state: string): void {
    this.directory.update({ state });
    this.renderPeers(this.directory.peers);
  }

  private setReceiving(on: boolean): void {
    this.receiving = on;
    this.directory.update({ receiving: on });
    this.view.setReceiving(on);
    if (on && !this.standby) {
      this.standby = this.host.spawn();
      void this.standby.vm.prepare();
    } else if (!on && this.standby) {
      this.standby.worker.terminate();
      this.standby = null;
    }
  }

  private takeStandby(): VmHandle {
    const ready = this.standby ?? this.host.spawn();
    this.standby = null;
    return ready;
  }

  private renderPeers(peers: TabInfo[]): void {
    const canSend = this.host.current() !== null && !this.busy;
    this.view.renderPeers(
      peers.map((tab) => ({ target: { kind: "tab", tab } as Target, tab })),
      this.remote ? { target: { kind: "remote" } as Target } : null,
      canSend,
    );
  }

  // ---- sending ----

  private async migrate(target: Target): Promise<void> {
    const current = this.host.current();
    if (!current || this.busy) return;
    const name = target.kind === "tab" ? `tab ${target.tab.label}` : "the paired browser";
    const signaling =
      target.kind === "tab" ? this.directory.signalingTo(target.tab.tabId) : this.remote?.signaling;
    if (!signaling) return;
    this.begin(`moving the guest to ${name}`);
    let linkFailure: string | null = null;
    const link = openPeerLink(signaling, "offerer");
    // The channel must go to the worker in the task that made it.
    const traced = current.vm.migrate(
      Comlink.transfer(link.channel, [link.channel]),
      {
        verify: this.view.verify,
        journal: this.host.journal().toJSON(),
        linkBytesPerSecond: this.view.linkBytesPerSecond,
      },
      Comlink.proxy((progress: MigrationProgress) => this.view.showSending(progress)),
    );
    link.connected.catch((error: Error) => {
      linkFailure = error.message;
      link.close(error.message); // the worker stops waiting for the channel
    });
    this.view.setCancellable(true);
    try {
      const trace = await traced;
      this.lastTrace = trace;
      this.view.showResult(trace);
      if (trace.outcome === "completed") {
        this.host.movedAway(`the guest moved to ${name}: ${describeTrace(trace)}`);
      } else if (trace.outcome === "unknown") {
        this.view.setStatus(`in doubt: ${trace.reason}`);
      } else {
        this.view.setStatus(`not moved, the guest runs on here: ${trace.reason}`);
      }
    } catch (error) {
      this.view.failed(`not moved: ${linkFailure ?? (error as Error).message}`);
    } finally {
      this.view.setCancellable(false);
      link.close("the migration is over");
      this.end(signaling);
    }
  }

  // ---- receiving ----

  /** Another page asks to link: only a tab that switched Receive on takes a guest. */
  private incoming(from: string, signaling: SignalingChannel, keepChannel = false): void {
    const refusal = !this.receiving
      ? "that tab is not receiving guests: switch on Receive there first"
      : this.busy
        ? "that tab is busy with another migration"
        : null;
    if (refusal) {
      signaling.send({ kind: "bye", reason: refusal });
      if (!keepChannel) signaling.close(); // the server's channel stays for the next request
      return;
    }
    void this.receive(from, signaling);
  }

  private async receive(from: string, signaling: SignalingChannel): Promise<void> {
    this.begin(`receiving a guest from ${from}`);
    const link = openPeerLink(signaling, "answerer");
    const next = this.takeStandby();
    const received = next.vm.receive(
      Comlink.transfer(link.channel, [link.channel]),
      { maxRamBytes: MAX_INCOMING_RAM },
      this.host.events,
      Comlink.proxy((progress: IncomingProgress) => this.view.showReceiving(progress)),
    );
    link.connected.catch((error: Error) => link.close(error.message));
    try {
      const { trace, summary, journal } = await received;
      this.lastTrace = trace;
      if (trace.outcome === "completed") {
        this.view.showArrival(trace, summary);
        this.setReceiving(false); // one guest per switch: another would replace this one
        const journey = Journal.from(journal);
        journey.addMove({
          atMs: Date.now(),
          downtimeMs: summary?.downtimeMs ?? 0,
          to: `tab ${this.directory.self.label}`,
        });
        this.host.adopt(
          next,
          `a guest arrived from ${from}: ${describeTrace(trace, summary)}`,
          journey,
        );
      } else {
        next.worker.terminate();
        this.view.failed(`nothing arrived: ${trace.reason}`);
        this.setReceiving(this.receiving); // a fresh standby worker for the next try
      }
    } catch (error) {
      next.worker.terminate();
      this.view.failed(`nothing arrived: ${(error as Error).message}`);
      this.setReceiving(this.receiving);
    } finally {
      link.close("the migration is over");
      this.end(signaling);
    }
  }

  // ---- another browser, through the signaling server ----

  /** Creates a room and shows its code (`code` null), or joins the room of `code`. */
  private async pair(code: string | null): Promise<void> {
    this.remote?.close();
    this.remote = null;
    try {
      const client = await SignalingServerClient.connect();
      if (code === null) {
        const created = await client.createRoom();
        this.view.setPairing(`code ${created}: type it in the other browser`);
        await client.waitForPeer(PAIRING_WAIT_MS);
      } else {
        await client.join(code);
      }
      this.remote = client;
      client.onpeerleft = () => {
        if (this.remote === client) this.remote = null;
        this.view.setPairing("the paired browser left");
        this.renderPeers(this.directory.peers);
      };
      this.listenRemote(client.signaling);
      this.view.setPairing("paired with another browser");
    } catch (error) {
      this.view.setPairing(`not paired: ${(error as Error).message}`);
    }
    this.renderPeers(this.directory.peers);
  }

  /** Between migrations, a hello on the server's channel is a peer asking to send a guest. */
  private listenRemote(signaling: SignalingChannel): void {
    const gate = (message: SignalingMessage) => {
      if (message.kind !== "hello") return;
      this.incoming("the paired browser", signaling, true);
      // A peer link that started took the handler: it hears the hello too.
      if (signaling.onmessage && signaling.onmessage !== gate) signaling.onmessage(message);
    };
    signaling.onmessage = gate;
  }

  // ---- bookkeeping ----

  private begin(what: string): void {
    this.busy = true;
    this.view.begin(what);
    this.renderPeers(this.directory.peers);
  }

  /** The server's channel waits for the next request; a tab's is closed (the next link opens anew). */
  private end(signaling: SignalingChannel): void {
    this.busy = false;
    if (this.remote && signaling === this.remote.signaling) this.listenRemote(signaling);
    else signaling.close();
    this.renderPeers(this.directory.peers);
  }
}
