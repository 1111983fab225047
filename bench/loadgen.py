"""An open-loop HTTP load generator, run as its own process: ``python -m bench.loadgen``.

Requests go out on a fixed schedule (request i at start + i / rate) whatever
the server does, over a pool of keep-alive connections, and each latency is
counted from the request's *scheduled* time, so a slow server cannot hide
its queueing by slowing the generator down (no coordinated omission).
Output: JSON with, per request, its status, latency and wall-clock finish.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from urllib.parse import urlsplit


def http_request(host: str, path: str, token: str, address: str, body: bytes) -> bytes:
    """One keep-alive HTTP/1.1 POST of a JSON body with a bearer token, from ``address`` (X-Forwarded-For)."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nX-Forwarded-For: {address}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """(status, server wants the connection closed); reads and drops the body."""
    status_line = await reader.readuntil(b"\r\n")
    status = int(status_line.split()[1])
    length, close = 0, False
    while True:
        line = await reader.readuntil(b"\r\n")
        if line == b"\r\n":
            break
        name, _, value = line.decode("latin-1").partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection" and value.strip().lower() == "close":
            close = True
    if length:
        await reader.readexactly(length)
    return status, close


async def run(
    url: str, items: list[dict], rate: float, connections: int, grace: float
) -> list[tuple[int, float, float]]:
    """Send every item on schedule; (status, latency s, finished at epoch s) per item, in order (status 0: none)."""
    parts = urlsplit(url)
    host, port, path = parts.hostname, parts.port, parts.path or "/"
    payloads = [
        http_request(f"{host}:{port}", path, it["token"], it["address"], json.dumps(it["body"]).encode())
        for it in items
    ]
    results: list = [None] * len(items)
    queue: asyncio.Queue = asyncio.Queue()
    loop = asyncio.get_running_loop()

    async def connection():
        reader = writer = None
        while (job := await queue.get()) is not None:
            index, scheduled = job
            status = 0
            for attempt in range(2):  # once more on a fresh connection if the server closed an idle one
                try:
                    if writer is None:
                        reader, writer = await asyncio.open_connection(host, port)
                    writer.write(payloads[index])
                    await writer.drain()
                    status, close = await read_response(reader)
                    if close:
                        writer.close()
                        writer = None
                    break
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    if writer is not None:
                        writer.close()
                    writer = None
                    if attempt:
                        status = 0
            results[index] = (status, loop.time() - scheduled, time.time())
        if writer is not None:
            writer.close()

    workers = [asyncio.create_task(connection()) for _ in range(connections)]
    start = loop.time() + 0.1
    for index in range(len(items)):
        scheduled = start + index / rate
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait((index, scheduled))
    for _ in workers:
        queue.put_nowait(None)
    # Bounded: what is not answered within ``grace`` seconds of the schedule's end counts as failed.
    _done, pending = await asyncio.wait(workers, timeout=grace)
    for task in pending:
        task.cancel()
    gave_up, now = loop.time(), time.time()
    return [r if r is not None else (0, gave_up - (start + i / rate), now) for i, r in enumerate(results)]


def main() -> int:
    """Read requests (JSON lines of {token, address, body}), send them at ``--rate``, write results as JSON."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--grace", type=float, default=30, help="seconds after the schedule to wait for answers")
    args = parser.parse_args()
    with open(args.input) as f:
        items = [json.loads(line) for line in f]
    started = time.time()
    results = asyncio.run(run(args.url, items, args.rate, args.connections, args.grace))
    with open(args.output, "w") as f:
        json.dump({"started": started, "results": results}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
