// Numbers as the page shows them.

const MIB = 2 ** 20;

export function mib(bytes: number | undefined | null): string {
  return bytes === undefined || bytes === null ? "—" : `${(bytes / MIB).toFixed(1)} MiB`;
}

export function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(2)} MB`;
}

export function count(value: number): string {
  return value.toLocaleString("en-US");
}

export function hex(value: number, digits = 8): string {
  return "0x" + (value >>> 0).toString(16).padStart(digits, "0");
}
