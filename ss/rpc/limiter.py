"""Rate limiting: a token bucket per client, and log-once-per-window for offenders.

Over the limit a call is refused with a ``rate_limited`` error (never silently
dropped), so a well-behaved client can back off and retry.
"""

from __future__ import annotations

import logging
import time

from .. import metrics

log = logging.getLogger("ss.limiter")


class TokenBucket:
    """Allows ``rate`` events per second on average, bursts up to ``burst`` (default: one second's worth)."""

    __slots__ = ("rate", "burst", "tokens", "stamp", "_logged_at")

    def __init__(self, rate: float, burst: float | None = None):
        if rate <= 0:
            raise ValueError(f"a rate limit must be positive, got {rate}")
        self.rate = float(rate)
        self.burst = float(burst if burst is not None else max(rate, 1.0))
        self.tokens = self.burst
        self.stamp = time.monotonic()
        self._logged_at = float("-inf")

    def allow(self, now: float | None = None) -> bool:
        """Take one token if there is one."""
        now = time.monotonic() if now is None else now
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def should_log(self, window: float = 10.0, now: float | None = None) -> bool:
        """True at most once per ``window`` seconds: the offender is logged once, not per message."""
        now = time.monotonic() if now is None else now
        if now - self._logged_at >= window:
            self._logged_at = now
            return True
        return False


class KeyedLimiter:
    """One TokenBucket per key (e.g. client IP for the HTTP API), forgetting idle keys."""

    def __init__(self, rate: float, max_keys: int = 10000):
        self.rate = rate
        self.max_keys = max_keys
        self._buckets: dict[str, TokenBucket] = {}

    def allow(self, key: str) -> bool:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._forget_full_buckets()
            bucket = self._buckets[key] = TokenBucket(self.rate)
        allowed = bucket.allow()
        if not allowed:
            metrics.rate_limited("http")
        if not allowed and bucket.should_log():
            log.warning("rate limit: %s is over %s requests/s; refusing with rate_limited", key, self.rate)
        return allowed

    def _forget_full_buckets(self) -> None:
        # A bucket that has refilled carries no history worth keeping.
        now = time.monotonic()
        for key in [k for k, b in self._buckets.items() if b.tokens + (now - b.stamp) * b.rate >= b.burst]:
            del self._buckets[key]
        if len(self._buckets) >= self.max_keys:
            self._buckets.clear()
