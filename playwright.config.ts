// End-to-end tests in Debian's Chromium against the Vite dev server.
import { defineConfig } from "@playwright/test";
import { CHROMIUM, CHROMIUM_ARGS, CHROMIUM_PERMISSIONS } from "./tools/chromium.mjs";

const PORT = 5199;
const SIGNAL_PORT = 5198;

export default defineConfig({
  testDir: "tests/e2e",
  testMatch: "**/*.spec.ts",
  timeout: 180_000,
  expect: { timeout: 120_000 },
  fullyParallel: false,
  workers: 1,
  reporter: [["list"]],
  use: {
    baseURL: `http://127.0.0.1:${PORT}`,
    launchOptions: { executablePath: CHROMIUM, args: CHROMIUM_ARGS },
    permissions: CHROMIUM_PERMISSIONS,
  },
  // The page and the signaling server, as `npm start` runs them (Vite forwards /signal).
  webServer: {
    command: `node tools/start.mjs --port ${PORT} --strictPort --host 127.0.0.1`,
    env: { HIVE86_SIGNAL_PORT: String(SIGNAL_PORT) },
    url: `http://127.0.0.1:${PORT}/`,
    reuseExistingServer: false,
    timeout: 120_000,
  },
});
