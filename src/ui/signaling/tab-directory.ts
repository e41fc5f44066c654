// The other hive86 tabs of this browser, found over a BroadcastChannel: each
// tab announces itself on change and every couple of seconds, forgets tabs
// that fall silent, and says goodbye when its page goes away. The same
// channel carries signaling addressed to one tab, so two tabs can set up a
// WebRTC link without any server. (BroadcastChannel does not cross browser
// profiles or contexts: those need the signaling server.)
import { BufferedSignalingChannel } from "./buffered-channel.ts";
import type { SignalingChannel, SignalingMessage } from "./signaling.ts";

export interface TabInfo {
  tabId: string;
  /** What a person sees in the list, e.g. "Debian guest, 128 MiB". */
  label: string;
  /** Whether this tab accepts an incoming guest now. */
  receiving: boolean;
  /** The VM's state, e.g. "running", "paused", "empty". */
  state: string;
}

export type TabDescription = Omit<TabInfo, "tabId">;

type DirectoryMessage =
  | { type: "announce"; tab: TabInfo }
  | { type: "goodbye"; tabId: string }
  | { type: "signal"; from: string; to: string; signal: SignalingMessage };

export interface TabDirectoryOptions {
  channelName?: string;
  announceIntervalMs?: number;
  /** A tab not heard from for this long is gone (crashed, frozen, or closed without pagehide). */
  peerTimeoutMs?: number;
}

export class TabDirectory {
  readonly tabId = crypto.randomUUID();
  /** Called whenever a tab appears, changes or goes away. */
  onpeerschange: ((peers: TabInfo[]) => void) | null = null;
  /**
   * Another tab starts a link to this one. Set `signaling.onmessage` (e.g. by
   * starting a peer link as answerer); without a handler the tab is told no.
   */
  onincoming: ((from: TabInfo | undefined, signaling: SignalingChannel) => void) | null = null;

  private readonly channel: BroadcastChannel;
  private readonly known = new Map<string, { info: TabInfo; lastHeard: number }>();
  private readonly links = new Map<string, BufferedSignalingChannel>();
  private readonly timer: ReturnType<typeof setInterval>;
  private readonly peerTimeoutMs: number;
  private description: TabDescription;
  private closed = false;
  private readonly onPageHide = () => this.close();

  constructor(description: TabDescription, options: TabDirectoryOptions = {}) {
    this.description = { ...description };
    const intervalMs = options.announceIntervalMs ?? 2000;
    this.peerTimeoutMs = options.peerTimeoutMs ?? intervalMs * 3;
    this.channel = new BroadcastChannel(options.channelName ?? "hive86");
    this.channel.onmessage = (event: MessageEvent<DirectoryMessage>) => this.onMessage(event.data);
    this.timer = setInterval(() => {
      this.announce();
      this.forgetSilentTabs();
    }, intervalMs);
    addEventListener("pagehide", this.onPageHide);
    this.announce();
  }

  get self(): TabInfo {
    return { tabId: this.tabId, ...this.description };
  }

  /** The other tabs heard from recently. */
  get peers(): TabInfo[] {
    return [...this.known.values()].map((entry) => entry.info);
  }

  /** Changes what this tab tells the others, and tells them at once. */
  update(changes: Partial<TabDescription>): void {
    this.description = { ...this.description, ...changes };
    this.announce();
  }

  /** Signaling to one tab (the same channel while it stays open). */
  signalingTo(tabId: string): SignalingChannel {
    if (tabId === this.tabId) throw new Error("a tab cannot link to itself");
    return this.links.get(tabId) ?? this.openLink(tabId);
  }

  /** Says goodbye and stops; open signaling channels hear a bye. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    removeEventListener("pagehide", this.onPageHide);
    this.post({ type: "goodbye", tabId: this.tabId });
    for (const link of [...this.links.values()]) {
      link.deliver({ kind: "bye", reason: "this tab's directory was closed" });
      link.close();
    }
    this.channel.close();
  }

  private openLink(tabId: string): BufferedSignalingChannel {
    const link = new BufferedSignalingChannel(
      (signal) => this.post({ type: "signal", from: this.tabId, to: tabId, signal }),
      () => {
        if (this.links.get(tabId) === link) this.links.delete(tabId);
      },
    );
    this.links.set(tabId, link);
    return link;
  }

  private onMessage(message: DirectoryMessage): void {
    switch (message.type) {
      case "announce": {
        const isNew = !this.known.has(message.tab.tabId);
        this.known.set(message.tab.tabId, { info: message.tab, lastHeard: performance.now() });
        // A newcomer should not wait a whole interval to see this tab.
        if (isNew) this.announce();
        this.onpeerschange?.(this.peers);
        return;
      }
      case "goodbye":
        this.forget(message.tabId, "the other tab was closed");
        return;
      case "signal":
        if (message.to === this.tabId) this.onSignal(message.from, message.signal);
        return;
    }
  }

  private onSignal(from: string, signal: SignalingMessage): void {
    const link = this.links.get(from);
    if (link) return link.deliver(signal);
    // Only a hello opens a link; late candidates of a closed one are dropped.
    if (signal.kind !== "hello") return;
    if (!this.onincoming) {
      const reason = "that tab does not accept links now";
      this.post({ type: "signal", from: this.tabId, to: from, signal: { kind: "bye", reason } });
      return;
    }
    const incoming = this.openLink(from);
    this.onincoming(this.known.get(from)?.info, incoming);
    incoming.deliver(signal);
  }

  /**
   * Drops silent tabs from the list only: a hidden tab's timers may be
   * throttled, and a link that is already up does not depend on announcements.
   */
  private forgetSilentTabs(): void {
    const now = performance.now();
    for (const [tabId, entry] of this.known) {
      if (now - entry.lastHeard > this.peerTimeoutMs) this.forget(tabId);
    }
  }

  private forget(tabId: string, byeReason?: string): void {
    if (byeReason) this.links.get(tabId)?.deliver({ kind: "bye", reason: byeReason });
    if (this.known.delete(tabId)) this.onpeerschange?.(this.peers);
  }

  private announce(): void {
    this.post({ type: "announce", tab: this.self });
  }

  private post(message: DirectoryMessage): void {
    if (this.closed && message.type !== "goodbye") return;
    this.channel.postMessage(message);
  }
}
