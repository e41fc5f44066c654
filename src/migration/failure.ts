// Why a migration ends early, in words for a person, whichever side it ends on.
import { ProtocolError } from "./protocol.ts";
import { TransportClosedError, TransportStalledError, TransportTimeoutError } from "./transport.ts";

/** This side calls the migration off (or learned that the other side did: byPeer). */
export class CalledOff extends Error {
  constructor(
    message: string,
    readonly byPeer = false,
  ) {
    super(message);
    this.name = "CalledOff";
  }
}

/** The reason to report and to send in ABANDON; `peer` names the other side. */
export function describeFailure(error: unknown, peer: "source" | "destination"): string {
  if (error instanceof CalledOff) return error.message;
  if (error instanceof TransportClosedError) return `the connection closed (${error.reason})`;
  if (error instanceof TransportTimeoutError) {
    return `the ${peer} went silent for ${(error.waitedMs / 1000).toFixed(0)} s`;
  }
  if (error instanceof TransportStalledError) {
    return `the ${peer} stopped taking data for ${(error.waitedMs / 1000).toFixed(0)} s`;
  }
  if (error instanceof ProtocolError) return `the ${peer} broke the protocol: ${error.message}`;
  return `internal error: ${error instanceof Error ? error.message : String(error)}`;
}
