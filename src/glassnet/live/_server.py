"""The local server behind ``LiveView``: standard library only (``http.server`` with a thread
per request), every request checked against the run's token, server-sent events from a
shared list that the training thread appends to.
"""

from __future__ import annotations

import errno
import json
import secrets
import socket
import socketserver
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import parse_qs, urlsplit

#: Seconds between keep-alive comments on an idle event stream (clients notice a dead one).
KEEPALIVE = 10.0
#: Events kept for clients that connect late (they read ``/history`` first).
KEPT_EVENTS = 4096


class EventLog:
    """Events as JSON lines, numbered from 0; ``wait`` blocks a reader until there are
    new ones or the log is closed."""

    def __init__(self):
        self._cond = threading.Condition()
        self._events, self._first, self.closed = [], 0, False

    @property
    def count(self) -> int:
        with self._cond:
            return self._first + len(self._events)

    def publish(self, event: dict):
        line = json.dumps(event, allow_nan=False)
        with self._cond:
            self._events.append(line)
            if len(self._events) > KEPT_EVENTS:  # the oldest half goes
                drop = len(self._events) // 2
                del self._events[:drop]
                self._first += drop
            self._cond.notify_all()

    def wait(self, since: int, timeout: float):
        """``(next_index, lines)`` after ``since`` (empty on timeout), or None once closed."""
        with self._cond:
            self._cond.wait_for(
                lambda: self.closed or self._first + len(self._events) > since, timeout)
            if self.closed:
                return None
            since = max(since, self._first)
            return self._first + len(self._events), self._events[since - self._first:]

    def close(self):
        with self._cond:
            self.closed = True
            self._cond.notify_all()


def page() -> bytes:
    return resources.files(__package__).joinpath("page.html").read_bytes()


class _Handler(BaseHTTPRequestHandler):
    server_version = "glassnet-live"

    def log_message(self, format, *args):  # a training script's output stays clean
        pass

    def _authorized(self, query) -> bool:
        given = query.get("token", [""])[0] or self.headers.get("X-Glassnet-Token", "")
        return secrets.compare_digest(given.encode(), self.server.token.encode())

    def _send(self, status, body: bytes, kind="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Referrer-Policy", "no-referrer")
        self.end_headers()
        self.wfile.write(body)

    def _route(self, method):
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if not self._authorized(query):
            return self._send(HTTPStatus.FORBIDDEN, b'{"error": "a valid token is required"}')
        routes = {("GET", "/"): self._page, ("GET", "/history"): self._history,
                  ("GET", "/events"): self._events, ("POST", "/stop"): self._stop}
        handler = routes.get((method, url.path))
        if handler is None:
            return self._send(HTTPStatus.NOT_FOUND, b'{"error": "no such page"}')
        handler(query)

    def do_GET(self):
        self._route("GET")

    def do_POST(self):
        self._route("POST")

    def _page(self, query):
        self._send(HTTPStatus.OK, page(), "text/html; charset=utf-8")

    def _history(self, query):
        self._send(HTTPStatus.OK, json.dumps(self.server.view.snapshot(),
                                             allow_nan=False).encode())

    def _stop(self, query):
        accepted = self.server.view.request_stop()
        self._send(HTTPStatus.OK if accepted else HTTPStatus.CONFLICT,
                   json.dumps({"stopping": accepted}).encode())

    def _events(self, query):
        log = self.server.events
        # A browser that reconnects says the last event it got; a page, where it starts.
        last = self.headers.get("Last-Event-ID")
        try:
            since = int(last) + 1 if last else int(query.get("since", ["-1"])[0])
        except ValueError:
            since = -1
        since = log.count if since < 0 else since
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        try:
            self.wfile.write(b": connected\n\n")
            self.wfile.flush()
            while (news := log.wait(since, KEEPALIVE)) is not None:
                stop, lines = news
                text = "".join(f"id: {since + i}\ndata: {line}\n\n"
                               for i, line in enumerate(lines)) or ": keep-alive\n\n"
                since = stop
                self.wfile.write(text.encode())
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the browser went away
        self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def server_bind(self):
        # HTTPServer.server_bind looks the host's name up (getfqdn), which can hang offline.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


class _Server6(_Server):
    address_family = socket.AF_INET6


def start(view, host: str, port: int):
    """A running server (in a daemon thread) for ``view``; a busy port or a host it cannot
    listen on is one clear ``ValueError``."""
    try:
        server = (_Server6 if ":" in host else _Server)((host, port), _Handler)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ValueError(f"LiveView(port={port}): port {port} on {host} is already in use; "
                             "pick another port, or port=0 for a free one.") from None
        raise ValueError(f"LiveView(host={host!r}, port={port}): cannot listen there "
                         f"({exc.strerror or exc}); use host='127.0.0.1', port=0.") from None
    server.view, server.events, server.token = view, EventLog(), secrets.token_urlsafe(24)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              name=f"glassnet-live:{server.server_address[1]}", daemon=True)
    thread.start()
    return server


def stop(server):
    """End the event streams, stop serving and free the port."""
    server.events.close()
    server.shutdown()
    server.server_close()
