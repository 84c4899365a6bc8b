"""Failed logins slow down whoever makes them, never lock anyone out for good.

OWASP's Authentication Cheat Sheet ("Protect against automated attacks":
account lockout is a denial-of-service risk; prefer throttling with growing
delays and locks that end by themselves) and the Credential Stuffing
Prevention Cheat Sheet. Two counters, in Django's cache (Redis when
``REDIS_URL`` is set, so every worker shares them):

- per (username, client IP): ``free`` failures, then each further failure
  makes the next attempt wait twice as long (1 s, 2 s, 4 s ... up to 15 min);
- per client IP, whatever the usernames: the same with a larger allowance,
  against one address trying many names.

A throttled attempt is refused before its password is checked, with the
same words whether or not the account exists. A success clears the
(username, IP) counter. Counters forget 15 minutes after their last failure.
The member lock after five failures in a row (``publishing.services``) stays,
ends by itself after ``MEMBER_LOCK_SECONDS``, and never applies to staff.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from django.core.cache import cache

WINDOW_SECONDS = 15 * 60
MAX_DELAY_SECONDS = 15 * 60


@dataclass(frozen=True)
class Rule:
    name: str
    free: int  # failures allowed before any delay

    def key(self, username: str, ip: str) -> str:
        subject = f"{username.casefold()}\n{ip}" if self.name == "user-ip" else ip
        return f"login-throttle:{self.name}:{hashlib.sha256(subject.encode()).hexdigest()}"

    def delay(self, failures: int) -> float:
        if failures < self.free:
            return 0.0
        return float(min(2 ** (failures - self.free), MAX_DELAY_SECONDS))


RULES = (Rule("user-ip", free=5), Rule("ip", free=20))


def wait_seconds(username: str, ip: str) -> int:
    """Seconds before this client may try this username again (0: now)."""
    now = time.time()
    entries = cache.get_many([rule.key(username, ip) for rule in RULES])
    wait = 0.0
    for rule in RULES:
        entry = entries.get(rule.key(username, ip))
        if entry:
            failures, last = entry
            wait = max(wait, last + rule.delay(failures) - now)
    return max(0, int(wait + 0.999))


def failed(username: str, ip: str) -> None:
    now = time.time()
    for rule in RULES:
        key = rule.key(username, ip)
        failures, _ = cache.get(key) or (0, now)
        cache.set(key, (failures + 1, now), WINDOW_SECONDS)


def succeeded(username: str, ip: str) -> None:
    cache.delete(RULES[0].key(username, ip))
