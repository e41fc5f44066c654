// `npm start`: the page (Vite) and the signaling server side by side. Ctrl-C
// stops both, and so does either one ending. The signaling server listens on
// 127.0.0.1:$HIVE86_SIGNAL_PORT (default 8787); Vite forwards the page's
// ws(s)://<host>/signal to it (vite.config.ts). Arguments go to Vite:
//
//   node tools/start.mjs [vite options, e.g. --port 5173 --host]
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const node = process.execPath;

// Node itself runs both (no npx in between), so a signal reaches the real processes.
const children = [
  spawn(node, ["--import", "tsx", join(root, "server", "signaling.ts")], {
    cwd: root,
    stdio: "inherit",
  }),
  spawn(node, [join(root, "node_modules", "vite", "bin", "vite.js"), ...process.argv.slice(2)], {
    cwd: root,
    stdio: "inherit",
  }),
];

let stopping = false;
function stopAll(exitCode) {
  if (!stopping) {
    stopping = true;
    process.exitCode = exitCode;
    for (const child of children) if (child.exitCode === null) child.kill("SIGTERM");
  }
}

for (const child of children) {
  child.on("exit", (code, signal) => stopAll(code ?? (signal ? 0 : 1)));
  child.on("error", (error) => {
    console.error(`cannot start ${child.spawnargs.join(" ")}: ${error.message}`);
    stopAll(1);
  });
}
process.on("SIGINT", () => stopAll(0));
process.on("SIGTERM", () => stopAll(0));
