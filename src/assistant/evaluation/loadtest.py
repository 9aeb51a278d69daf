"""A short load run against /api/v1/ask: N concurrent clients for S seconds, then requests/s and latency percentiles.

    python -m assistant.evaluation.loadtest --url http://127.0.0.1:7860 --clients 16 --seconds 20

Each client sends the example questions in turn, one request after another, over its own keep-alive connection.
Only loopback addresses are targeted unless --allow-remote is given; the run always stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import socket
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

import httpx

from .stats import percentile


@dataclass(frozen=True)
class Report:
    """What a run measured."""

    clients: int
    seconds: float
    requests: int
    ok: int
    statuses: dict[str, int]
    requests_per_second: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


def is_loopback(url: str) -> bool:
    """Does the URL's host resolve to loopback addresses only?"""
    host = urlsplit(url).hostname or ""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except socket.gaierror:
        return False
    return bool(addresses) and all(ipaddress.ip_address(str(a).split("%")[0]).is_loopback for a in addresses)


async def _client(
    http: httpx.AsyncClient,
    questions: list[str],
    offset: int,
    deadline: float,
    latencies: list[float],
    statuses: Counter,
) -> None:
    i = offset
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        try:
            response = await http.post("/api/v1/ask", json={"question": questions[i % len(questions)]})
            status = str(response.status_code)
        except httpx.HTTPError as exc:
            status = exc.__class__.__name__
        statuses[status] += 1
        if status == "200":
            latencies.append((time.perf_counter() - started) * 1000)
        i += 1


async def run(url: str, clients: int, seconds: float, questions: list[str], key: str | None = None) -> Report:
    """Drive the server for `seconds` with `clients` concurrent clients; latencies count successful requests."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url.rstrip("/"), headers=headers, limits=limits, timeout=60) as http:
        warm = await http.post("/api/v1/ask", json={"question": questions[0]})
        if warm.status_code != 200:
            raise SystemExit(f"error: the server answered HTTP {warm.status_code}: {warm.text[:200]}")
        latencies: list[float] = []
        statuses: Counter = Counter()
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(*(_client(http, questions, n, deadline, latencies, statuses) for n in range(clients)))
        elapsed = time.perf_counter() - started
    total = sum(statuses.values())
    return Report(
        clients=clients,
        seconds=round(elapsed, 2),
        requests=total,
        ok=statuses.get("200", 0),
        statuses=dict(statuses),
        requests_per_second=round(statuses.get("200", 0) / elapsed, 1),
        p50_ms=round(percentile(latencies, 50) or 0.0, 1),
        p95_ms=round(percentile(latencies, 95) or 0.0, 1),
        p99_ms=round(percentile(latencies, 99) or 0.0, 1),
        max_ms=round(max(latencies, default=0.0), 1),
    )


def main(argv: list[str] | None = None) -> None:
    """Command line: run, then print the report (human lines, or --json)."""
    parser = argparse.ArgumentParser(
        prog="python -m assistant.evaluation.loadtest", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--url", default="http://127.0.0.1:7860", help="the assistant's base URL")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (1-256)")
    parser.add_argument("--seconds", type=float, default=20, help="length of the run (1-600)")
    parser.add_argument("--key", help="API key, when the server requires one")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--allow-remote", action="store_true", help="allow a host that is not loopback")
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= 256 or not 1 <= args.seconds <= 600:
        parser.error("--clients must be 1-256 and --seconds 1-600")
    if not args.allow_remote and not is_loopback(args.url):
        parser.error(f"{args.url} is not a loopback address: load runs target this machine unless --allow-remote")
    from ..serve.web.examples import EXAMPLES

    report = asyncio.run(run(args.url, args.clients, args.seconds, list(EXAMPLES), args.key))
    if args.json:
        print(json.dumps(asdict(report), indent=2))
        return
    print(
        f"{report.requests} requests in {report.seconds} s with {report.clients} clients "
        f"({report.ok} answered, statuses {report.statuses})"
    )
    print(
        f"throughput {report.requests_per_second} requests/s; latency p50 {report.p50_ms} ms, "
        f"p95 {report.p95_ms} ms, p99 {report.p99_ms} ms, max {report.max_ms} ms"
    )
    if report.ok < report.requests:
        sys.exit(1)


if __name__ == "__main__":
    main()
