import { copyFileSync, createReadStream, existsSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { defineConfig, type Connect, type Plugin, type ProxyOptions } from "vite";
import { DEFAULT_SIGNALING_PORT, SIGNALING_PATH } from "./server/signaling-protocol.ts";

// SharedArrayBuffer and precise timers need a cross-origin isolated page.
const isolationHeaders = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
};

// The guest (tools/guest/build.sh -> build/guest) is served at /guest/ as plain
// bytes: Vite would take the extension-less bzImage for a module to transform.
const GUEST_DIR = join(import.meta.dirname, "build", "guest");
const GUEST_FILES = ["bzImage", "initramfs.cpio.gz", "manifest.json"];

function serveGuest(): Connect.NextHandleFunction {
  return (req, res, next) => {
    const name = req.url?.startsWith("/guest/") ? req.url.slice(7).split("?")[0] : null;
    if (!name || !GUEST_FILES.includes(name)) return next();
    const path = join(GUEST_DIR, name);
    if (!existsSync(path)) {
      res.statusCode = 404;
      res.end(`${name} is not built: run "npm run guest"`);
      return;
    }
    res.setHeader("Content-Type", "application/octet-stream");
    res.setHeader("Content-Length", statSync(path).size);
    res.setHeader("Cache-Control", "no-cache");
    for (const [key, value] of Object.entries(isolationHeaders)) res.setHeader(key, value);
    createReadStream(path).pipe(res);
  };
}

function guestFiles(): Plugin {
  let outDir = "dist";
  return {
    name: "hive86-guest-files",
    configResolved(config) {
      outDir = config.build.outDir;
    },
    configureServer(server) {
      server.middlewares.use(serveGuest());
    },
    configurePreviewServer(server) {
      server.middlewares.use(serveGuest());
    },
    closeBundle() {
      mkdirSync(join(outDir, "guest"), { recursive: true });
      for (const name of GUEST_FILES) {
        const from = join(GUEST_DIR, name);
        if (existsSync(from)) copyFileSync(from, join(outDir, "guest", name));
      }
    },
  };
}

// Pages reach the signaling server (server/signaling.ts, which `npm start`
// runs beside Vite on 127.0.0.1:$HIVE86_SIGNAL_PORT, default 8787) as
// ws(s)://<the page's own host>/signal: one origin, one port to open.
const signalingPort = Number(process.env.HIVE86_SIGNAL_PORT ?? DEFAULT_SIGNALING_PORT);
const signalingProxy: Record<string, ProxyOptions> = {
  [SIGNALING_PATH]: { target: `ws://127.0.0.1:${signalingPort}`, ws: true },
};

export default defineConfig({
  server: { headers: isolationHeaders, proxy: signalingProxy },
  preview: { headers: isolationHeaders, proxy: signalingProxy },
  worker: { format: "es" },
  plugins: [guestFiles()],
});
