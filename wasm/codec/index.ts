// hive86 page codec: the wasm module migration uses to compress, detect and
// compare guest RAM pages. Built separately from the core (wasm/index.ts,
// which must not import from here), so the core's build stays as it is and
// the page path can be loaded on its own (build/codec.wasm).
//
// No allocator: callers get one work area from workspace() and lay out their
// buffers in it.
export { workspace } from "./workspace";
export { lzCompress as compress, lzDecompress as decompress } from "./lz";
export { isZeroPage, scanPages } from "./zero";
export { hashBegin, hashUpdate, hashEnd, hash64 } from "./hash";
