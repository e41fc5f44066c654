// Assembles a NASM source into a flat binary (nasm -f bin) in a temp dir.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";

let checked = false;

function requireNasm(): void {
  if (checked) return;
  const probe = spawnSync("nasm", ["-v"], { encoding: "utf8" });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      "nasm is not installed or not on PATH (Debian: apt-get install nasm); the CPU tests assemble their programs with it",
    );
  }
  checked = true;
}

/** Assembles sourcePath; defines become -D NAME=VALUE. Includes resolve next to the source. */
export function assemble(
  sourcePath: string,
  defines: Record<string, string | number> = {},
): Uint8Array {
  requireNasm();
  const dir = mkdtempSync(join(tmpdir(), "hive86-nasm-"));
  const out = join(dir, basename(sourcePath).replace(/\.\w+$/, "") + ".bin");
  const args = ["-f", "bin", "-I", dirname(sourcePath) + "/", "-o", out];
  for (const [name, value] of Object.entries(defines)) args.push(`-D${name}=${value}`);
  args.push(sourcePath);
  try {
    execFileSync("nasm", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    return new Uint8Array(readFileSync(out));
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`nasm failed on ${sourcePath}:\n${e.stderr ?? e.message}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
