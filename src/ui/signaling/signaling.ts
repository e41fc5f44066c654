// How two pages exchange what WebRTC needs before a data channel exists:
// a hello to find each other, the offer and answer, ICE candidates, and a bye
// when one side gives up. Carried by the tab directory (tabs of one browser)
// or by the signaling server (any two browsers); peer-link.ts speaks it.

export type SignalingMessage =
  | { kind: "hello" }
  | { kind: "offer"; sdp: string }
  | { kind: "answer"; sdp: string }
  | { kind: "candidate"; candidate: RTCIceCandidateInit }
  | { kind: "bye"; reason: string };

export interface SignalingChannel {
  send(message: SignalingMessage): void;
  /** Messages that arrive before a handler is set wait for it. */
  onmessage: ((message: SignalingMessage) => void) | null;
  close(): void;
}
