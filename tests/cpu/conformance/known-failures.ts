// Tests of the 80286 real-mode suite that are expected to FAIL on the core,
// each with the reason. The conformance test fails on any failure not listed
// here (a regression) and on any entry that now passes (remove it).
// Identify a test by file base name, idx and hash (see FORMAT.md).
export interface KnownFailure {
  file: string;
  idx: number;
  hash: string;
  reason: string;
}

export const KNOWN_FAILURES: KnownFailure[] = [];
