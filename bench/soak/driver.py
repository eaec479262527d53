"""The soak's load generator: one asyncio process driving its share of the users' sessions.

    python bench/soak/driver.py MODE --port P --sessions FILE --state FILE --start EPOCH ...

MODE:
  prime   log every session of this share in (2 at a time), then exit
  closed  `--concurrency` loops, each sending the next request as soon as the last is answered,
          for `--duration` seconds (the capacity measurement)
  open    requests at `--rate` per second, Poisson arrivals, whatever the answers' speed (an
          answer's latency is counted from the moment it was due, so a server that falls
          behind shows it: no coordinated omission), for `--duration` seconds

Every request picks an idle session (none of a session's requests overlap, as in one browser
tab) and does what its tokens call for, else what the mix draws:
  - no tokens (never logged in, or logged out)        -> login (POST /api/auth/token/)
  - refresh token expiring within MARGIN seconds       -> login; the old session is abandoned,
    (its session's absolute lifetime is running out)     left to expire for the purge
  - a session logged in by `prime` whose planned end   -> logout (POST /api/auth/token/blacklist/
    has come                                              with the current refresh token); the
                                                          next request logs in again
  - access token expiring within MARGIN seconds        -> refresh (rotation: the new pair replaces
                                                          the old one)
  - otherwise, by weight: GET /api/user/, POST verify (the access token), refresh, logout

All sessions log in together at the start (`prime`), so each of those draws a planned end,
uniform between 0.2 and 1.2 times the session lifetime (`--session-lifetime`, the servers'
SESSION_MAX_LIFETIME_SECONDS): their logouts, and the logins after them, spread out instead of
coming back together when the lifetime runs out; the sixth whose plan lies beyond the lifetime
are abandoned when it ends. Later sessions end by the mix's logout weight, or, if they outlive
their lifetime, are abandoned.

Every request is a new connection (gunicorn's sync workers close each one), with Host of the
session's client, X-Forwarded-Proto: https, and X-Forwarded-For: the session's own address
(the servers trust 127.0.0.1 as their proxy). Every answer outside 2xx, every connection error
and every timeout is an error. Per window of `--window` seconds (from `--start`) it prints one
JSON line: counts, errors and latencies (ms) per operation, and how late requests were sent.
The sessions' tokens are saved to `--state` at exit and read at start, so the phases continue
the same sessions.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import random
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path

MARGIN = 5.0  # seconds before a token's expiry when the client renews it
TIMEOUT = 10.0
MAX_IN_FLIGHT = 512  # open loop: beyond this the driver, not the server, is the limit
OPERATIONS = ("login", "user", "verify", "refresh", "logout")


def jwt_exp(token: str) -> float:
    payload = token.split(".")[1]
    payload += "=" * (-len(payload) % 4)
    return float(json.loads(base64.urlsafe_b64decode(payload))["exp"])


def dechunk(body: bytes) -> bytes:
    out = []
    while body:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out.append(body[:size])
        body = body[size + 2 :]
    return b"".join(out)


@dataclass
class Session:
    host: str
    username: str
    ip: str
    access: str | None = None
    refresh: str | None = None
    access_exp: float = 0.0
    refresh_exp: float = 0.0
    planned_end: float = 0.0

    def take(self, tokens: dict) -> None:
        self.access, self.refresh = tokens["access"], tokens["refresh"]
        self.access_exp, self.refresh_exp = jwt_exp(self.access), jwt_exp(self.refresh)


class Stats:
    def __init__(self, start: float, window: float):
        self.start, self.window = start, window
        self.windows: dict[int, dict] = {}
        self.flushed = -1

    def _bucket(self, at: float) -> dict:
        index = int((at - self.start) // self.window)
        bucket = self.windows.get(index)
        if bucket is None:
            bucket = self.windows[index] = {
                "window": index,
                "n": dict.fromkeys(OPERATIONS, 0),
                "errors": {},
                "lat": {op: [] for op in OPERATIONS},
                "lag": [],
                "skipped": 0,
            }
        return bucket

    def record(self, op: str, latency: float, error: str | None, lag: float) -> None:
        bucket = self._bucket(time.time())
        bucket["n"][op] += 1
        bucket["lat"][op].append(round(latency * 1000, 2))
        bucket["lag"].append(round(lag * 1000, 2))
        if error is not None:
            key = f"{op} {error}"
            bucket["errors"][key] = bucket["errors"].get(key, 0) + 1

    def skip(self) -> None:
        self._bucket(time.time())["skipped"] += 1

    def flush(self, final: bool = False) -> None:
        current = int((time.time() - self.start) // self.window)
        for index in sorted(self.windows):
            if final or index < current - 1:
                print(json.dumps(self.windows.pop(index)), flush=True)


class Driver:
    def __init__(self, args: argparse.Namespace, sessions: list[Session]):
        self.args = args
        self.sessions = sessions
        self.idle = list(range(len(sessions)))
        self.stats = Stats(args.start, args.window)
        weights = json.loads(args.weights)
        self.mix_ops = list(weights)
        self.mix_weights = [weights[op] for op in self.mix_ops]
        self.password = args.password
        self.lifetime = args.session_lifetime
        self.first_generation = args.mode == "prime"
        self.rng = random.Random(args.seed)

    # --- HTTP ----------------------------------------------------------------------------------

    async def http(
        self, session: Session, method: str, path: str, body: dict | None, bearer: bool = False
    ) -> tuple[int, bytes]:
        data = json.dumps(body).encode() if body is not None else b""
        lines = [
            f"{method} {path} HTTP/1.1",
            f"Host: {session.host}",
            "X-Forwarded-Proto: https",
            f"X-Forwarded-For: {session.ip}",
            "User-Agent: tenantauth-soak",
            "Connection: close",
        ]
        if bearer:
            lines.append(f"Authorization: Bearer {session.access}")
        if body is not None:
            lines += ["Content-Type: application/json", f"Content-Length: {len(data)}"]
        reader, writer = await asyncio.open_connection("127.0.0.1", self.args.port)
        try:
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + data)
            raw = await reader.read(-1)
        finally:
            writer.close()
        head, _, payload = raw.partition(b"\r\n\r\n")
        status = int(head[9:12]) if head.startswith(b"HTTP/1.") else 0
        if b"transfer-encoding: chunked" in head.lower():
            payload = dechunk(payload)
        return status, payload

    # --- one request -----------------------------------------------------------------------------

    def choose(self, session: Session) -> str:
        now = time.time()
        if session.refresh is None or session.refresh_exp - now < MARGIN:
            return "login"
        if session.planned_end and now >= session.planned_end:
            session.planned_end = 0.0
            return "logout"
        if session.access_exp - now < MARGIN:
            return "refresh"
        return self.rng.choices(self.mix_ops, self.mix_weights)[0]

    async def one(self, index: int, due: float, op: str | None = None) -> None:
        session = self.sessions[index]
        op = op or self.choose(session)
        lag = time.time() - due
        error = None
        try:
            status, payload = await asyncio.wait_for(self.send(session, op), TIMEOUT)
            if not 200 <= status < 300:
                error = str(status)
                if op == "refresh" and status == 401:  # its session is gone: log in again
                    session.refresh = None
            elif op in ("login", "refresh"):
                session.take(json.loads(payload))
                if op == "login" and self.first_generation:
                    session.planned_end = time.time() + self.lifetime * self.rng.uniform(0.2, 1.2)
            elif op == "logout":
                session.access = session.refresh = None
        except TimeoutError:
            error = "timeout"
        except OSError as exc:
            error = type(exc).__name__
        except ValueError as exc:
            error = "bad_json"
            print(f"{op}: {exc!r}", file=sys.stderr)
        self.stats.record(op, time.time() - due, error, lag)

    async def one_then_idle(self, index: int, due: float) -> None:
        try:
            await self.one(index, due)
        finally:
            self.idle.append(index)

    def send(self, session: Session, op: str):
        if op == "login":
            body = {"username": session.username, "password": self.password}
            return self.http(session, "POST", "/api/auth/token/", body)
        if op == "user":
            return self.http(session, "GET", "/api/user/", None, bearer=True)
        if op == "verify":
            return self.http(session, "POST", "/api/auth/token/verify/", {"token": session.access})
        if op == "refresh":
            return self.http(
                session, "POST", "/api/auth/token/refresh/", {"refresh": session.refresh}
            )
        return self.http(
            session, "POST", "/api/auth/token/blacklist/", {"refresh": session.refresh}
        )

    def take_idle(self) -> int | None:
        if not self.idle:
            return None
        i = self.rng.randrange(len(self.idle))
        self.idle[i], self.idle[-1] = self.idle[-1], self.idle[i]
        return self.idle.pop()

    # --- modes -----------------------------------------------------------------------------------

    async def flusher(self) -> None:
        while True:
            await asyncio.sleep(1)
            self.stats.flush()

    async def prime(self) -> None:
        todo = [i for i, session in enumerate(self.sessions) if session.refresh is None]

        async def worker() -> None:
            while todo:
                await self.one(todo.pop(), time.time(), "login")

        await asyncio.gather(*(worker() for _ in range(2)))

    async def closed(self) -> None:
        end = time.time() + self.args.duration

        async def loop() -> None:
            while time.time() < end:
                index = self.take_idle()
                if index is None:
                    await asyncio.sleep(0.001)
                    continue
                await self.one_then_idle(index, time.time())

        await asyncio.gather(*(loop() for _ in range(self.args.concurrency)))

    async def open(self) -> None:
        rate = self.args.rate
        now = time.time()
        end = now + self.args.duration
        due = now
        tasks: set[asyncio.Task] = set()
        while True:
            due += self.rng.expovariate(rate)
            if due >= end:
                break
            delay = due - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            index = self.take_idle() if len(tasks) < MAX_IN_FLIGHT else None
            if index is None:  # every session busy, or too many in flight: the driver's limit
                self.stats.skip()
                continue
            task = asyncio.create_task(self.one_then_idle(index, due))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(tasks)

    async def run(self) -> None:
        flusher = asyncio.create_task(self.flusher())
        await getattr(self, self.args.mode)()
        flusher.cancel()
        self.stats.flush(final=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["prime", "closed", "open"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--sessions", type=Path, required=True, help="JSON [[host, user, ip]]")
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--start", type=float, required=True, help="epoch of window 0")
    parser.add_argument("--window", type=float, default=10)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--weights", default='{"user": 60, "verify": 25, "refresh": 15}')
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--session-lifetime", type=float, default=300)
    args = parser.parse_args()

    if args.state.exists():
        sessions = [Session(**s) for s in json.loads(args.state.read_text())]
    else:
        sessions = [Session(h, u, ip) for h, u, ip in json.loads(args.sessions.read_text())]
    driver = Driver(args, sessions)
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    asyncio.run(driver.run())
    used = resource.getrusage(resource.RUSAGE_SELF)
    args.state.write_text(json.dumps([s.__dict__ for s in sessions]))
    cpu_seconds = used.ru_utime + used.ru_stime - cpu.ru_utime - cpu.ru_stime
    print(json.dumps({"done": True, "cpu_seconds": round(cpu_seconds, 2)}), flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
