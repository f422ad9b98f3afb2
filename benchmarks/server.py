"""A minimal keep-alive HTTP/1.1 server on loopback for the benchmarks.

Not the fake server: it does as little as possible per request, so the client's cost
dominates. Every POST gets a fixed job body (202); GET of a job a fixed job; GET of
an application's jobs a page of ``--jobs`` failed jobs by offset/limit.
Prints the port on stdout, then serves until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid
from urllib.parse import parse_qs, urlsplit

CREATED = "2025-01-02T03:04:05+00:00"
JOB = json.dumps(
    {
        "id": "182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e",
        "status": "in_progress",
        "created_at": CREATED,
        "application_id": "bench-app",
    }
).encode()


def _response(status: str, body: bytes) -> bytes:
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


POST_REPLY = _response("202 Accepted", JOB)
GET_REPLY = _response("200 OK", JOB)


class Handler(asyncio.Protocol):
    jobs = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end]
            length = 0
            index = head.lower().find(b"content-length:")
            if index >= 0:
                length = int(head[index + 15 :].split(b"\r\n", 1)[0])
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length :]
            self.transport.write(self.reply(head))

    def reply(self, head: bytes) -> bytes:
        method, target, _ = head.split(b"\r\n", 1)[0].split(b" ", 2)
        if method == b"POST":
            return POST_REPLY
        if not target.startswith(b"/v1/applications/jobs/"):
            return self.page(target.decode())
        return GET_REPLY

    def page(self, target: str) -> bytes:
        query = parse_qs(urlsplit(target).query)
        offset = int(query.get("offset", ["0"])[0])
        limit = int(query.get("limit", ["100"])[0])
        jobs = [
            {
                "id": str(uuid.UUID(int=i + 1)),
                "status": "failed",
                "application_id": "bench-app",
                "created_at": CREATED,
                "updated_at": CREATED,
                "error": "boom",
            }
            for i in range(offset, min(offset + limit, self.jobs))
        ]
        body = {
            "result": jobs,
            "totalCount": self.jobs,
            "pagination": {"offset": offset, "limit": limit},
        }
        return _response("200 OK", json.dumps(body).encode())


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=1000)
    args = parser.parse_args()
    Handler.jobs = args.jobs
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Handler, "127.0.0.1", args.port, backlog=4096)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
