// A WebRTC link between two pages, set up over any SignalingChannel. It
// makes one negotiated data channel at once and returns without waiting, so
// the caller can transfer the channel to the VM's worker
// (worker.postMessage(..., [link.channel])) in the same task: Chromium allows
// a transfer only in the task that created the channel (measured: after a
// timer or once open, postMessage throws "no longer transferable"). The page
// keeps the RTCPeerConnection, which exists only on the main thread and must
// stay referenced while the channel is in use.
//
// The exchange: both sides say hello (whoever starts first may not be heard,
// so a first hello is answered once); the offerer answers the first hello
// it hears with an offer, the answerer answers the offer; both trickle their
// ICE candidates. Loopback-only machines need Chromium's
// --allow-loopback-in-peer-connection and the camera permission (see
// tools/chromium.mjs).
import "webrtc-adapter";
import type { SignalingChannel, SignalingMessage } from "./signaling/signaling.ts";

export type PeerRole = "offerer" | "answerer";

export interface PeerLink {
  /** Negotiated, ordered, id 0; "connecting" until the peers are connected. */
  readonly channel: RTCDataChannel;
  readonly connection: RTCPeerConnection;
  /** Resolves once ICE connected the peers; rejects with a readable reason on failure or timeout. */
  readonly connected: Promise<void>;
  /** Ends the link; before it connected, the other side hears a bye with `reason`. */
  close(reason?: string): void;
}

export interface PeerLinkOptions {
  /** How long to wait for the peers to connect (default 30 s). */
  timeoutMs?: number;
  /** The data channel's label, for chrome://webrtc-internals. */
  label?: string;
}

export function openPeerLink(
  signaling: SignalingChannel,
  role: PeerRole,
  options: PeerLinkOptions = {},
): PeerLink {
  const timeoutMs = options.timeoutMs ?? 30_000;
  // A closed network needs no STUN: host candidates are enough on a LAN or loopback.
  const connection = new RTCPeerConnection({ iceServers: [] });
  const channel = connection.createDataChannel(options.label ?? "hive86-migration", {
    negotiated: true,
    id: 0,
    ordered: true,
  });

  let settled = false;
  let heardHello = false;
  let offered = false;
  const earlyCandidates: RTCIceCandidateInit[] = [];
  let resolveConnected!: () => void;
  let rejectConnected!: (error: Error) => void;
  const connected = new Promise<void>((resolve, reject) => {
    resolveConnected = resolve;
    rejectConnected = reject;
  });

  // This tab closing ends the link for the peer too, without waiting for ICE.
  const onPageHide = () => {
    try {
      signaling.send({ kind: "bye", reason: "the other tab was closed" });
    } catch {
      // The signaling is gone already.
    }
    connection.close();
  };
  addEventListener("pagehide", onPageHide);

  const timer = setTimeout(() => {
    const seconds = (timeoutMs / 1000).toFixed(1);
    fail(`no connection after ${seconds} s (${describeStates(connection)})`);
  }, timeoutMs);

  function send(message: SignalingMessage): void {
    try {
      signaling.send(message);
    } catch (error) {
      fail(`signaling failed: ${(error as Error).message}`);
    }
  }

  function fail(reason: string, tellPeer = true): void {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    if (tellPeer) {
      try {
        signaling.send({ kind: "bye", reason });
      } catch {
        // The signaling is gone too; the peer will time out.
      }
    }
    connection.close();
    removeEventListener("pagehide", onPageHide);
    rejectConnected(new Error(reason));
  }

  connection.addEventListener("icecandidate", (event) => {
    if (event.candidate && !settled)
      send({ kind: "candidate", candidate: event.candidate.toJSON() });
  });
  connection.addEventListener("connectionstatechange", () => {
    if (connection.connectionState === "connected" && !settled) {
      settled = true;
      clearTimeout(timer);
      resolveConnected();
    } else if (connection.connectionState === "failed") {
      if (settled) {
        connection.close(); // the channel (maybe in a worker) learns it is over
        return;
      }
      fail(
        `the connection failed: ICE found no path between the peers (${describeStates(connection)})`,
      );
    }
  });

  async function handle(message: SignalingMessage): Promise<void> {
    switch (message.kind) {
      case "hello":
        if (!heardHello) {
          heardHello = true;
          send({ kind: "hello" });
        }
        if (role === "offerer" && !offered) {
          offered = true;
          await connection.setLocalDescription(await connection.createOffer());
          send({ kind: "offer", sdp: connection.localDescription!.sdp });
        }
        return;
      case "offer":
        if (role !== "answerer") throw new Error("both sides are offerers: one must answer");
        await connection.setRemoteDescription({ type: "offer", sdp: requireText(message.sdp) });
        await addCandidates(earlyCandidates.splice(0));
        await connection.setLocalDescription(await connection.createAnswer());
        send({ kind: "answer", sdp: connection.localDescription!.sdp });
        return;
      case "answer":
        if (role !== "offerer") throw new Error("both sides are answerers: one must offer");
        await connection.setRemoteDescription({ type: "answer", sdp: requireText(message.sdp) });
        await addCandidates(earlyCandidates.splice(0));
        return;
      case "candidate":
        if (connection.remoteDescription) await addCandidates([message.candidate]);
        else earlyCandidates.push(message.candidate);
        return;
      case "bye":
        fail(`the other side gave up: ${message.reason}`, false);
        return;
    }
  }

  async function addCandidates(candidates: RTCIceCandidateInit[]): Promise<void> {
    for (const candidate of candidates) await connection.addIceCandidate(candidate);
  }

  // One message at a time: a candidate must not overtake the offer it belongs to.
  let queue = Promise.resolve();
  signaling.onmessage = (message) => {
    // Once connected, the link no longer needs signaling: a bye or a lost
    // server then changes nothing, and the channel reports its own end.
    if (settled) return;
    queue = queue
      .then(() => (settled ? undefined : handle(message)))
      .catch((error: Error) => fail(`setting up the connection failed: ${error.message}`));
  };
  send({ kind: "hello" });
  return {
    channel,
    connection,
    connected,
    close(reason = "the link was closed") {
      fail(reason, true);
      connection.close();
      removeEventListener("pagehide", onPageHide);
    },
  };
}

function requireText(value: unknown): string {
  if (typeof value !== "string") throw new Error("a session description without SDP text");
  return value;
}

function describeStates(connection: RTCPeerConnection): string {
  return [
    `signaling ${connection.signalingState}`,
    `ICE ${connection.iceConnectionState}`,
    `gathering ${connection.iceGatheringState}`,
    `connection ${connection.connectionState}`,
  ].join(", ");
}
