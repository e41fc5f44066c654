// Where the core's wasm bytes come from: given bytes, a URL (fetched in the
// browser, read from disk for file: URLs in Node), or by default the build
// output build/hive86.wasm.

// Uint8Array of any buffer: what readFile and fetch hand out.
export type WasmSource = BufferSource | Uint8Array | URL;

export const DEFAULT_WASM_URL = new URL("../../build/hive86.wasm", import.meta.url);

async function readFileUrl(url: URL): Promise<Uint8Array<ArrayBuffer>> {
  // Hidden from bundlers: only Node reaches this branch.
  const fsModule = "node:fs/promises";
  const { readFile } = (await import(
    /* @vite-ignore */ fsModule
  )) as typeof import("node:fs/promises");
  try {
    const bytes = await readFile(url);
    return new Uint8Array(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(
      `hive86 core: cannot read ${url.pathname} (run "npm run build:wasm"?): ${reason}`,
    );
  }
}

// A module fetched from a URL is compiled once per realm (page, worker,
// process): a machine made for an arriving guest should not wait for it.
const compiledUrls = new Map<string, Promise<WebAssembly.Module>>();

export function compileCore(source: WasmSource = DEFAULT_WASM_URL): Promise<WebAssembly.Module> {
  if (!(source instanceof URL)) return WebAssembly.compile(source as BufferSource);
  let compiled = compiledUrls.get(source.href);
  if (!compiled) {
    compiled = compileUrl(source);
    compiledUrls.set(source.href, compiled);
    // A failure is not kept: the next call tries again.
    compiled.catch(() => compiledUrls.delete(source.href));
  }
  return compiled;
}

async function compileUrl(source: URL): Promise<WebAssembly.Module> {
  if (source.protocol === "file:") return WebAssembly.compile(await readFileUrl(source));
  const response = await fetch(source);
  if (!response.ok)
    throw new Error(`hive86 core: fetching ${source.href} failed: ${response.status}`);
  return WebAssembly.compile(await response.arrayBuffer());
}
