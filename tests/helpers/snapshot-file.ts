// Editing a snapshot file's JSON block behind the CRC's back: the block
// replaced and the CRC made right again, so the checks behind it are reached.
import { crc32 } from "../../src/migration/crc32.ts";

/** Magic, version, JSON length, stored pages, CRC (src/migration/snapshot.ts): the JSON block follows. */
const HEADER = 24;

export function withJson(
  bytes: Uint8Array,
  edit: (info: Record<string, unknown>) => void,
): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  const length = view.getUint32(12, true);
  const info = JSON.parse(new TextDecoder().decode(bytes.subarray(HEADER, HEADER + length)));
  edit(info);
  const json = new TextEncoder().encode(JSON.stringify(info));
  const out = new Uint8Array(HEADER + json.length + (bytes.length - HEADER - length));
  out.set(bytes.subarray(0, HEADER));
  out.set(json, HEADER);
  out.set(bytes.subarray(HEADER + length), HEADER + json.length);
  const outView = new DataView(out.buffer);
  outView.setUint32(12, json.length, true);
  outView.setUint32(20, crc32(out.subarray(HEADER)), true);
  return out;
}
