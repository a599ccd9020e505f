"""Direct probes of behaviour that schemathesis cannot judge from the spec.

Usage: probes.py TCP_BASE UNIX_SOCKET LIMITED_BASE READ_TOKEN ADMIN_TOKEN

* TCP_BASE: the daemon under test (http://127.0.0.1:PORT), configured with
  both tokens, `--read-token-query`, `--cors-origin http://localhost:9999`,
  `--admin-uid` of the caller, `--heartbeat 1s`, a file: source.
* LIMITED_BASE: a second daemon started with `--max-connections 1`.

Prints one line per probe (ok / FAIL / KNOWN) and exits with the number of
failures. KNOWN marks a reported daemon bug; it counts as a failure only when
GENIDD_CHECK_STRICT=1. Standard library only, raw sockets, bounded waits.
"""

import base64
import hashlib
import json
import os
import re
import socket
import sys
import time
from urllib.parse import urlsplit

STRICT = os.environ.get("GENIDD_CHECK_STRICT") == "1"
# The origin scripts/check-api.sh gives the daemon with --cors-origin.
PAGE_ORIGIN = "http://localhost:9999"


class Probes:
    def __init__(self, base, unix_path, limited, read_token, admin_token):
        self.tcp = urlsplit(base)
        self.unix_path = unix_path
        self.limited = urlsplit(limited)
        self.read_token = read_token
        self.admin_token = admin_token
        self.failures = 0
        self.known = 0

    # -- plumbing ---------------------------------------------------------

    def connect(self, where=None, timeout=5.0):
        if where == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(self.unix_path)
            return sock
        target = where or self.tcp
        return socket.create_connection((target.hostname, target.port), timeout=timeout)

    def request(self, method, path, headers=(), body=b"", where=None, token="read", timeout=5.0, tries=3):
        """Sends one request on a new connection; returns (status, headers dict, body) or raises.

        A server that answers before reading the whole request (413, 414, 431)
        and closes makes the kernel reset the connection; when the reset wins
        the race against the answer, the request is sent again."""
        for attempt in range(tries):
            try:
                return self._request_once(method, path, headers, body, where, token, timeout)
            except ConnectionResetError:
                if attempt == tries - 1:
                    raise
                time.sleep(0.05)

    def _request_once(self, method, path, headers, body, where, token, timeout):
        sock = self.connect(where, timeout)
        try:
            lines = [f"{method} {path} HTTP/1.1", "Host: localhost", "Connection: close"]
            if token:
                lines.append("Authorization: Bearer " + (self.read_token if token == "read" else self.admin_token))
            lines += list(headers)
            if body:
                lines.append(f"Content-Length: {len(body)}")
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
            data = b""
            while True:
                try:
                    chunk = sock.recv(65536)
                except ConnectionResetError:
                    if data:
                        break
                    raise
                if not chunk:
                    break
                data += chunk
        finally:
            sock.close()
        return parse_response(data, method)

    def report(self, name, ok, detail="", known=None):
        if ok:
            print(f"  ok     {name}")
        elif known:
            self.known += 1
            if STRICT:
                self.failures += 1
            print(f"  KNOWN  {name}: {detail} [reported daemon bug: {known}]")
        else:
            self.failures += 1
            print(f"  FAIL   {name}: {detail}")

    def current(self):
        status, _, body = self.request("GET", "/v1/generation")
        assert status == 200, status
        return json.loads(body)

    def bump(self):
        status, _, body = self.request("POST", "/v1/generation/bump", token="admin")
        assert status == 200, (status, body)
        return json.loads(body)

    # -- probes -----------------------------------------------------------

    def sse_prelude(self):
        state = self.current()
        sock = self.connect()
        try:
            sock.sendall(
                (
                    "GET /v1/events HTTP/1.1\r\nHost: localhost\r\n"
                    f"Authorization: Bearer {self.read_token}\r\n\r\n"
                ).encode()
            )
            text = read_until(sock, b"\n\n", count=1, seconds=3).decode()
        finally:
            sock.close()
        body = text.split("\r\n\r\n", 1)[1] if "\r\n\r\n" in text else ""
        body = dechunk_loose(body)
        # One block: a lone "retry:" block is an empty message to some clients (httpx-sse).
        expected = f"retry: 2000\nevent: generation\nid: {state['instance']}.{state['seq']}\ndata: "
        ok = body.startswith(expected)
        if ok:
            data = json.loads(body[len(expected):].split("\n", 1)[0])
            ok = data["seq"] == state["seq"] and data["instance"] == state["instance"]
        self.report("SSE opens with one block: retry: 2000 and the current state as event/id/data", ok, repr(body[:160]))

    def sse_last_event_id(self):
        state = self.current()
        seq = f"{state['instance']}.{state['seq']}"
        sock = self.connect()
        try:
            sock.sendall(
                (
                    "GET /v1/events HTTP/1.1\r\nHost: localhost\r\n"
                    f"Authorization: Bearer {self.read_token}\r\nLast-Event-ID: {seq}\r\n\r\n"
                ).encode()
            )
            text = read_until(sock, b": keepalive\n", count=2, seconds=4).decode()
        finally:
            sock.close()
        body = dechunk_loose(text.split("\r\n\r\n", 1)[1]) if "\r\n\r\n" in text else ""
        # Keepalives are comment lines that end no block: no client dispatches anything for them.
        ok = body.startswith("retry: 2000\n") and body.count(": keepalive\n") >= 2 and "\n\n" not in body
        ok = ok and "event:" not in body
        self.report(
            "SSE with Last-Event-ID = instance.seq skips the initial event; keepalive comment lines end no block",
            ok, repr(body[-160:]),
        )

    def sse_change(self):
        state = self.current()
        seq = f"{state['instance']}.{state['seq']}"
        sock = self.connect()
        try:
            sock.sendall(
                (
                    "GET /v1/events?watcher=probe-sse HTTP/1.1\r\nHost: localhost\r\n"
                    f"Authorization: Bearer {self.read_token}\r\nLast-Event-ID: {seq}\r\n\r\n"
                ).encode()
            )
            read_until(sock, b"retry: 2000\n", count=1, seconds=3)
            new = self.bump()
            text = dechunk_loose(read_until(sock, f"id: {new['instance']}.{new['seq']}\n".encode(), count=1, seconds=3).decode())
            status, _, body = self.request("GET", "/v1/watchers/probe-sse")
            connected = status == 200 and json.loads(body)["connected"]
        finally:
            sock.close()
        ok = f"event: generation\nid: {new['instance']}.{new['seq']}\n" in text and connected
        self.report("SSE delivers a bump as the next generation event; ?watcher= shows connected", ok, repr(text[-160:]))

    def generation_id(self):
        before = self.current()
        after = self.bump()
        status, _, body = self.request("GET", "/metrics", token="read")
        exported = [
            line for line in body.decode().splitlines() if line.startswith("genidd_generation_info{")
        ]
        well_formed = all(re.fullmatch(r"[0-9a-f]{32}", s["generation_id"]) for s in (before, after))
        ok = (
            well_formed
            and before["generation_id"] != after["generation_id"]
            and status == 200
            and exported == [f'genidd_generation_info{{generation_id="{after["generation_id"]}"}} 1.0']
        )
        self.report(
            "each bump draws a new generation_id; /metrics exports it as the only genidd_generation_info series",
            ok, f"{before.get('generation_id')} -> {after.get('generation_id')}; metrics {exported}",
        )

    def cors(self):
        status, headers, _ = self.request(
            "OPTIONS", "/v1/events", token=None,
            headers=[f"Origin: {PAGE_ORIGIN}", "Access-Control-Request-Method: GET",
                     "Access-Control-Request-Headers: last-event-id, authorization"],
        )
        ok = status == 204 and headers.get("access-control-allow-origin") == PAGE_ORIGIN
        ok = ok and "Last-Event-ID" in headers.get("access-control-allow-headers", "")
        detail = f"preflight {status} {headers.get('access-control-allow-origin')}"
        status, headers, _ = self.request("GET", "/v1/generation", headers=[f"Origin: {PAGE_ORIGIN}"])
        ok = ok and status == 200 and headers.get("access-control-allow-origin") == PAGE_ORIGIN
        ok = ok and headers.get("access-control-expose-headers") == "ETag" and headers.get("vary") == "Origin"
        detail += f"; GET {status} {headers.get('access-control-allow-origin')}"
        status, headers, _ = self.request(
            "OPTIONS", "/v1/generation", token=None,
            headers=["Origin: http://localhost:9998", "Access-Control-Request-Method: GET"],
        )
        ok = ok and status == 403 and "access-control-allow-origin" not in headers
        detail += f"; other origin {status}"
        status, headers, _ = self.request(
            "POST", "/v1/generation/bump", token="admin", headers=[f"Origin: {PAGE_ORIGIN}"]
        )
        ok = ok and status == 403 and "access-control-allow-origin" not in headers
        detail += f"; bump from a page {status}"
        self.report("CORS: an allowed origin reads and preflights; another origin and writes from pages are refused", ok, detail)

    def access_token(self):
        status, _, body = self.request("GET", f"/v1/generation?access_token={self.read_token}", token=None)
        ok, detail = status == 200, f"read token {status}"
        status, _, _ = self.request("GET", f"/v1/generation?access_token={self.admin_token}", token=None)
        ok, detail = ok and status == 401, detail + f"; admin token {status}"
        status, _, _ = self.request("POST", f"/v1/generation/bump?access_token={self.admin_token}", token=None)
        ok, detail = ok and status == 400, detail + f"; on a POST {status}"
        self.report("access_token: the read token on GET; never the admin token, never on writes", ok, detail)

    def status_page(self):
        status, headers, body = self.request("GET", "/", token=None)
        html = body.decode()
        policy = headers.get("content-security-policy", "")
        ok = status == 200 and headers.get("content-type", "").startswith("text/html") and "default-src 'none'" in policy
        detail = f"{status} {policy[:60]!r}"
        for tag, directive in (("script", "script-src"), ("style", "style-src")):
            found = re.search(f"<{tag}>(.*?)</{tag}>", html, re.S)
            digest = base64.b64encode(hashlib.sha256(found.group(1).encode()).digest()).decode() if found else "none"
            ok = ok and f"{directive} 'sha256-{digest}'" in policy
            detail += f"; {tag} sha256-{digest[:12]}"
        status, _, body = self.request("GET", "/v1/status")
        changes = json.loads(body)["recent_changes"] if status == 200 else []
        ok = ok and status == 200 and changes and changes[0]["seq"] == self.current()["seq"]
        self.report("GET / is HTML whose CSP hashes match its inline script and style; /v1/status leads with the current seq", ok, detail)

    def long_poll_timeout(self):
        seq = self.current()["seq"]
        start = time.monotonic()
        status, headers, body = self.request("GET", f"/v1/generation?wait={seq}&timeout=0.4")
        elapsed = time.monotonic() - start
        ok = status == 200 and json.loads(body)["seq"] == seq and 0.35 <= elapsed < 3
        self.report("long-poll on the current seq answers the unchanged state at its timeout", ok, f"{status} after {elapsed:.2f}s")

    def long_poll_change(self):
        seq = self.current()["seq"]
        sock = self.connect(timeout=10)
        try:
            sock.sendall(
                (
                    f"GET /v1/generation?wait={seq}&timeout=30 HTTP/1.1\r\nHost: localhost\r\n"
                    f"Authorization: Bearer {self.read_token}\r\nConnection: close\r\n\r\n"
                ).encode()
            )
            time.sleep(0.2)
            start = time.monotonic()
            self.bump()
            data = read_until(sock, b"}", count=1, seconds=5)
            elapsed = time.monotonic() - start
        finally:
            sock.close()
        status, _, body = parse_response(data, "GET")
        ok = status == 200 and json.loads(body)["seq"] == seq + 1 and elapsed < 3
        self.report("long-poll is answered by the next change", ok, f"{status} after {elapsed:.2f}s")

    def etag(self):
        status, headers, _ = self.request("GET", "/v1/generation")
        tag = headers.get("etag", "")
        status2, headers2, body2 = self.request("GET", "/v1/generation", headers=[f"If-None-Match: W/{tag}, \"x\""])
        ok = status == 200 and status2 == 304 and headers2.get("etag") == tag and body2 == b""
        self.report("If-None-Match (weak, in a list) gives 304 with the same ETag", ok, f"{status2} {headers2}")

    def unix_admin_peer(self):
        status, _, _ = self.request("GET", "/v1/generation", where="unix", token=None)
        status2, _, _ = self.request("POST", "/v1/generation/bump", where="unix", token=None)
        status3, _, _ = self.request("POST", "/v1/generation/bump", where="unix", token=None, headers=["X-Forwarded-For: 10.0.0.1"])
        status4, headers4, _ = self.request("POST", "/v1/generation/bump", token="read")
        ok = (status, status2, status3, status4) == (200, 200, 403, 403)
        self.report(
            "Unix peer in --admin-uid reads and bumps without a token; proxy headers 403; read token on bump 403",
            ok,
            f"{status} {status2} {status3} {status4}",
        )

    def tcp_needs_tokens(self):
        status, headers, _ = self.request("GET", "/v1/generation", token=None)
        status2, _, _ = self.request("GET", "/healthz", token=None)
        ok = status == 401 and headers.get("www-authenticate") == 'Bearer realm="genidd"' and status2 == 200
        self.report("with a read token configured, reads need it (401 + WWW-Authenticate); /healthz stays open", ok, f"{status} {headers} {status2}")

    def body_too_large(self):
        # The declared length is refused before any body byte is read.
        status, headers, body = self.request(
            "POST", "/v1/watchers/probe/ack", headers=["Content-Type: application/json", "Content-Length: 2000"]
        )
        ok = status == 413 and headers.get("connection", "").lower() == "close" and json.loads(body)["status"] == 413
        self.report("a body over 1 KiB is 413 problem+json with Connection: close", ok, f"{status} {headers}")

    def libmicrohttpd_limits(self):
        # Requests must fit in the 6 KiB per-connection memory.
        status, _, _ = self.request("GET", "/healthz?x=" + "a" * 8000, token=None)
        status2, _, _ = self.request("GET", "/healthz", headers=["X-Big: " + "a" * 8000], token=None)
        self.report("libmicrohttpd answers 414 for an 8 KB request line, 431 for 8 KB of headers", (status, status2) == (414, 431), f"{status} {status2}")

    def connection_limit(self):
        hold = self.connect(self.limited)
        try:
            hold.sendall(b"GET /v1/events HTTP/1.1\r\nHost: localhost\r\n\r\n")
            read_until(hold, b"retry: 2000", count=1, seconds=3)
            status, headers, body = self.request("GET", "/v1/generation", where=self.limited)
            probe, _, _ = self.request("GET", "/healthz", where=self.limited, token=None)
        finally:
            hold.close()
        ok = status == 503 and headers.get("retry-after") == "1" and json.loads(body)["status"] == 503 and probe == 200
        self.report("past --max-connections: 503 with Retry-After: 1, but probes answered", ok, f"{status} {headers}; /healthz {probe}")

    def many_arguments(self):
        path = "/healthz?" + "&".join(f"x{i}=a" for i in range(59))
        try:
            status, _, _ = self.request("GET", path, token=None, timeout=3)
            ok, detail = status in (200, 414, 431), f"status {status}"
        except (socket.timeout, TimeoutError):
            ok, detail = False, "no answer within 3 s (the connection is held until the 60 s idle timeout)"
        except ValueError as error:
            ok, detail = False, str(error)
        self.report(
            "59 short query arguments get an answer", ok, detail, known="request-memory-exhausted"
        )

    def watchers_timeout(self):
        status, _, _ = self.request("GET", "/v1/watchers?timeout=abc")
        self.report(
            "GET /v1/watchers?timeout=abc (no wait) is 400 like /v1/generation", status == 400, f"status {status}",
            known="watchers-timeout-unchecked",
        )

    def bump_huge_min(self):
        status, _, _ = self.request(
            "POST",
            "/v1/generation/bump",
            token="admin",
            headers=["Content-Type: application/json"],
            body=b'{"min": 18446744073709551616}',
        )
        self.report(
            "bump with min above 2^64-1 is 400", status == 400, f"status {status}", known="bump-min-saturates"
        )


def read_until(sock, marker, count, seconds):
    """Reads until `marker` was seen `count` times or `seconds` passed."""
    deadline = time.monotonic() + seconds
    data = b""
    while data.count(marker) < count:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except (socket.timeout, TimeoutError):
            break
        if not chunk:
            break
        data += chunk
    return data


def dechunk_loose(text):
    """Drops chunk-size lines of a chunked body (good enough for small SSE reads)."""
    out = []
    for line in text.split("\r\n"):
        if line and all(c in "0123456789abcdefABCDEF" for c in line):
            continue
        out.append(line)
    return "".join(out)


def parse_response(data, method):
    if not data:
        raise ValueError("the connection closed without a response")
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = dechunk_loose(body.decode()).encode()
    return status, headers, body


def main():
    probes = Probes(*sys.argv[1:6])
    order = [
        "sse_prelude", "sse_last_event_id", "sse_change", "generation_id", "cors", "access_token", "status_page",
        "long_poll_timeout", "long_poll_change", "etag",
        "unix_admin_peer", "tcp_needs_tokens", "body_too_large", "libmicrohttpd_limits", "connection_limit",
        "watchers_timeout", "bump_huge_min", "many_arguments",
    ]
    for name in order:
        try:
            getattr(probes, name)()
        except Exception as error:  # a probe that crashes is a failure, not a crash of the run
            probes.report(name, False, f"{type(error).__name__}: {error}")
    print(f"probes: {probes.failures} failed, {probes.known} known daemon bugs")
    sys.exit(min(probes.failures, 100))


if __name__ == "__main__":
    main()
