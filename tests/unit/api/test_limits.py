"""Token buckets, client addresses behind proxies, and the HTTPS test behind the HSTS header."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from grounddesk.api.limits import RateLimiter, client_address, counted, retry_after_header
from grounddesk.api.middleware import content_security_policy, served_over_tls


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_its_burst_then_refills_at_its_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(per_minute=60, burst=3, clock=clock)  # one token a second
    assert [limiter.take("a") for _ in range(3)] == [None, None, None]
    assert limiter.take("a") == pytest.approx(1.0)
    clock.now += 0.5
    assert limiter.take("a") == pytest.approx(0.5)  # a refused request spends nothing
    clock.now += 0.5
    assert limiter.take("a") is None
    assert limiter.take("b") is None  # every key has its own bucket
    clock.now += 3600
    assert [limiter.take("a") for _ in range(4)] == [None, None, None, pytest.approx(1.0)]  # never above the burst


def test_least_recently_used_buckets_are_dropped_past_the_key_limit() -> None:
    clock = Clock()
    limiter = RateLimiter(per_minute=1, burst=1, max_keys=2, clock=clock)
    limiter.take("a")
    limiter.take("b")
    assert limiter.take("a") is not None  # a is empty, and now the most recently used
    limiter.take("c")  # drops b
    assert len(limiter) == 2
    assert limiter.take("a") is not None  # a was kept (and is still empty)
    assert limiter.take("b") is None  # b starts again with a full bucket


def test_buckets_are_safe_to_share_between_threads() -> None:
    limiter = RateLimiter(per_minute=0.001, burst=100)
    allowed: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def worker() -> None:
        start.wait()
        for _ in range(50):
            ok = limiter.take("shared") is None
            with lock:
                allowed.append(ok)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert allowed.count(True) == 100 and len(allowed) == 400


def test_invalid_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        RateLimiter(per_minute=0, burst=1)
    with pytest.raises(ValueError):
        RateLimiter(per_minute=1, burst=0)


def test_retry_after_is_whole_seconds_rounded_up() -> None:
    assert [retry_after_header(s) for s in (0.01, 1.0, 1.2, 99.5)] == ["1", "1", "2", "100"]


def _scope(peer: str = "203.0.113.9", **headers: str) -> dict[str, Any]:
    return {
        "type": "http",
        "scheme": "http",
        "client": (peer, 50000),
        "headers": [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()],
    }


def test_the_client_address_is_the_peer_unless_a_proxy_is_trusted() -> None:
    forged = _scope(x_forwarded_for="6.6.6.6, 198.51.100.7")
    assert client_address(forged) == "203.0.113.9"
    assert client_address(forged, trusted_proxy_hops=1) == "198.51.100.7"
    assert client_address(forged, trusted_proxy_hops=2) == "6.6.6.6"
    assert client_address(forged, trusted_proxy_hops=3) == "203.0.113.9"  # fewer entries than proxies: the peer
    assert client_address({"type": "http", "headers": []}) == "unknown"


def test_https_is_the_scheme_or_a_trusted_proxys_forwarded_proto() -> None:
    assert served_over_tls({**_scope(), "scheme": "https"})
    assert not served_over_tls(_scope())
    assert not served_over_tls(_scope(x_forwarded_proto="https"))  # nobody trusted: the header is ignored
    assert served_over_tls(_scope(x_forwarded_proto="https"), trusted_proxy_hops=1)
    assert served_over_tls(_scope(x_forwarded_proto="HTTPS, http"), trusted_proxy_hops=2)
    assert not served_over_tls(_scope(x_forwarded_proto="http"), trusted_proxy_hops=1)


def test_counted_paths_match_whole_segments() -> None:
    prefixes = ["/v1/conversations", "/v1/auth/"]
    assert counted("/v1/conversations", prefixes) and counted("/v1/conversations/abc/messages", prefixes)
    assert counted("/v1/auth/login", prefixes)
    assert not counted("/v1/conversationsx", prefixes) and not counted("/healthz", prefixes)


def test_the_policy_allows_only_our_own_scripts() -> None:
    csp = content_security_policy(["https://www.example.com"])
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["script-src"] == "'self'" and directives["object-src"] == "'none'"
    assert directives["img-src"] == "'self' data:" and directives["frame-ancestors"] == "https://www.example.com"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in content_security_policy([])
