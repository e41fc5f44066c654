// Which pages may use the signaling server, by their Origin header. Browsers
// always send one and pages cannot forge it; a client without one is not a
// page (a Node peer, a test), and refusing it would stop nothing, since such
// a client could send any Origin it likes.
const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

/**
 * Allowed: no Origin; an origin on the list; and, without a list, pages on
 * this machine. Always allowed: a page whose own host is the one it connects
 * to, as when Vite forwards /signal from the page's server (not cross-site).
 */
export function originAllowed(
  origin: string | undefined,
  requestHost: string | undefined,
  allowed?: readonly string[],
): boolean {
  if (origin === undefined) return true;
  if (allowed?.includes(origin)) return true;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false; // "null" (a file: page, a sandboxed frame) and other non-URLs
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return false;
  if (requestHost !== undefined && url.host === requestHost.toLowerCase()) return true;
  return !allowed && LOOPBACK_HOSTS.has(url.hostname);
}
