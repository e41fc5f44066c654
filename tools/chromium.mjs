// Debian's Chromium and the flags it needs on these machines (see
// ../shared/browser.md): root, no GPU, a closed network, WebRTC on loopback.
export const CHROMIUM = "/usr/bin/chromium";

export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-features=WebRtcHideLocalIpsWithMdns",
  "--allow-loopback-in-peer-connection",
];

/**
 * What every browser context needs for WebRTC on a loopback-only network:
 * without the camera permission Chromium gathers no ICE candidates there (no
 * getUserMedia call is needed).
 */
export const CHROMIUM_PERMISSIONS = ["camera", "microphone"];
