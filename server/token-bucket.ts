// A per-connection rate limit: up to `burst` messages at once, refilled at
// `perSecond`. Signaling needs a few dozen messages per pairing; a client
// that sends more is broken or hostile.
export interface RateLimit {
  burst: number;
  perSecond: number;
}

export class TokenBucket {
  private tokens: number;
  private refilledAt: number;

  constructor(
    private readonly limit: RateLimit,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = limit.burst;
    this.refilledAt = now();
  }

  /** Spends one token; false when none is left. */
  take(): boolean {
    const now = this.now();
    const earned = ((now - this.refilledAt) / 1000) * this.limit.perSecond;
    this.tokens = Math.min(this.limit.burst, this.tokens + earned);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
