"""The calm client: GET a path at a fixed rate (open loop), each request on its own connection.

    python bench/fairness/calm.py --port 18300 --host calm.localhost --auth "Bearer …" \
        --rate 50 --warmup 2 --duration 10

Request i is due at start + i / rate whether or not earlier ones have been answered (as users
arrive at a service), and its latency runs from when it was due, so a server that stalls is
charged for every request that waited, not only for the few a closed loop would have sent
(coordinated omission). Requests due during the warm-up are not counted. Prints one JSON line:
answered, non-2xx, errors (connection failures and requests unanswered after --timeout),
p50/p90/p99/max latency in µs, and how late this client itself started its requests (it shares
the machine's CPUs with the server and the flood; that lag is part of every latency).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time


async def one(args: argparse.Namespace, payload: bytes, due: float) -> tuple[float, int, float]:
    """(latency from the due time, status, how late this client itself started the request);
    status 0 for a failure."""
    loop = asyncio.get_running_loop()
    late = loop.time() - due
    try:
        async with asyncio.timeout(args.timeout):
            reader, writer = await asyncio.open_connection("127.0.0.1", args.port)
            writer.write(payload)
            await writer.drain()
            status_line = await reader.readline()
            await reader.read()  # the server closes the connection after the answer
            writer.close()
        status = int(status_line.split()[1])
    except (OSError, TimeoutError, IndexError, ValueError):
        status = 0
    return loop.time() - due, status, late


async def run(args: argparse.Namespace) -> dict:
    payload = (
        f"GET {args.path} HTTP/1.1\r\nHost: {args.host}\r\nX-Forwarded-Proto: https\r\n"
        f"Authorization: {args.auth}\r\nConnection: close\r\n\r\n"
    ).encode()
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05
    total = int((args.warmup + args.duration) * args.rate)
    skip = int(args.warmup * args.rate)
    tasks, warmup = [], []
    for i in range(total):
        due = start + i / args.rate
        await asyncio.sleep(max(0.0, due - loop.time()))
        (tasks if i >= skip else warmup).append(asyncio.create_task(one(args, payload, due)))
    results = await asyncio.gather(*tasks)
    latencies = sorted(latency for latency, status, _ in results if status)
    lateness = sorted(late for _, _, late in results)

    def pct(p: float) -> int:
        if not latencies:
            return 0
        return round(latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1e6)

    return {
        "requests": len(results),
        "answered": len(latencies),
        "non2xx": sum(1 for _, status, _ in results if status and not 200 <= status < 300),
        "socket_errors": sum(1 for _, status, _ in results if not status),
        "duration_us": round(args.duration * 1e6),
        "p50_us": pct(50),
        "p90_us": pct(90),
        "p99_us": pct(99),
        "max_us": round(latencies[-1] * 1e6) if latencies else 0,
        # The client's own lag (waiting for a CPU, say): part of every latency above.
        "client_late_p50_us": round(lateness[len(lateness) // 2] * 1e6) if lateness else 0,
        "client_late_max_us": round(lateness[-1] * 1e6) if lateness else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", required=True)
    parser.add_argument("--path", default="/api/user/")
    parser.add_argument("--auth", required=True, help="the Authorization header's value")
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--timeout", type=float, default=10)
    args = parser.parse_args()
    started = time.monotonic()
    result = asyncio.run(run(args))
    result["wall_s"] = round(time.monotonic() - started, 2)
    print("BENCH_JSON " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
