"""A scripted HTTP/1.1 server on 127.0.0.1 for what only a socket shows: timeouts,
connections dropped before or after the request was read, bodies cut short.

Each request is handed to ``handler(request) -> Reply``; the server records every
request (and whether the handler ran, i.e. it was "processed").
"""

from __future__ import annotations

import email.utils
import json
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

import attrs


@attrs.define
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@attrs.define
class Reply:
    """What to do with one request."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = attrs.field(factory=dict)
    #: "respond", "close" (drop without answering), "reset" (TCP RST, no byte sent),
    #: "stall" (sleep, then answer),
    #: "cut" (send the headers and half the body, then close), "trickle" (the body one
    #: byte a delay), "trickle_head" (the status line and headers one byte a delay)
    action: str = "respond"
    delay: float = 0.0

    @classmethod
    def json(cls, status: int, payload: Any, **kwargs: Any) -> Reply:
        return cls(status=status, body=json.dumps(payload).encode(), **kwargs)


REASONS = {
    200: "OK",
    202: "Accepted",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class LoopbackServer:
    def __init__(
        self, handler: Callable[[Request], Reply], tls: ssl.SSLContext | None = None
    ) -> None:
        self.handler = handler
        self.tls = tls
        self.tls_errors = 0
        self.requests: list[Request] = []
        self.connections = 0
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._sock.settimeout(0.05)  # so the accept loop notices a stop promptly
        self.port: int = self._sock.getsockname()[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()

    def count(self, method: str, suffix: str = "") -> int:
        with self._lock:
            return sum(1 for r in self.requests if r.method == method and r.path.endswith(suffix))

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            with self._lock:
                self.connections += 1
            threading.Thread(target=self._connection, args=(conn,), daemon=True).start()

    def _read_request(self, conn: socket.socket, buffer: bytes) -> tuple[Request | None, bytes]:
        while b"\r\n\r\n" not in buffer:
            chunk = conn.recv(65536)
            if not chunk:
                return None, b""
            buffer += chunk
        head, _, rest = buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            chunk = conn.recv(65536)
            if not chunk:
                return None, b""
            rest += chunk
        return Request(method, path, headers, rest[:length]), rest[length:]

    def _connection(self, conn: socket.socket) -> None:
        buffer = b""
        if self.tls is not None:
            try:
                conn = self.tls.wrap_socket(conn, server_side=True)
            except (ssl.SSLError, OSError):
                with self._lock:
                    self.tls_errors += 1
                conn.close()
                return
        try:
            while not self._stop.is_set():
                request, buffer = self._read_request(conn, buffer)
                if request is None:
                    return
                with self._lock:
                    self.requests.append(request)
                reply = self.handler(request)
                if reply.action == "close":
                    return
                if reply.action == "reset":
                    # SO_LINGER 0: close() sends a TCP RST, not a FIN.
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    return
                if reply.action == "stall":
                    time.sleep(reply.delay)
                body = reply.body
                headers = {
                    "Content-Type": "application/json",
                    "Content-Length": str(len(body)),
                    # As real servers do; a reply can drop it with an empty value.
                    "Date": email.utils.formatdate(usegmt=True),
                    **reply.headers,
                }
                headers = {k: v for k, v in headers.items() if v}
                head = f"HTTP/1.1 {reply.status} {REASONS.get(reply.status, 'Status')}\r\n"
                head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
                if reply.action == "cut":
                    conn.sendall(head.encode() + body[: len(body) // 2])
                    return
                if reply.action == "trickle_head":
                    for byte in head.encode():
                        conn.sendall(bytes([byte]))
                        time.sleep(reply.delay)
                    conn.sendall(body)
                    continue
                if reply.action == "trickle":
                    conn.sendall(head.encode())
                    for byte in body:
                        time.sleep(reply.delay)
                        conn.sendall(bytes([byte]))
                    continue
                conn.sendall(head.encode())
                conn.sendall(body)
        except OSError:
            return
        finally:
            conn.close()
