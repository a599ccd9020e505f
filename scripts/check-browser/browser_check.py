"""Checks genidd with a real browser: Debian's chromium, headless, driven over
the DevTools protocol (a small client on websocket-client).

Usage: browser_check.py GENIDD_BINARY EXAMPLES_DIR WORK_DIR

(a) the status page (`GET /`, same origin) shows a change within 1 s, runs
    its inline script under its CSP, and lists the change; with
    --read-token-file it reports the 401, and reads with `#access_token=`;
(b) examples/browser.html, served from another origin (http://localhost:P by
    a local http.server) that genidd allows with --cors-origin, receives a
    change over EventSource, reads the ETag and gets a 304 through a
    preflighted fetch with If-None-Match, and after genidd restarts (same
    state directory, same port) reconnects sending Last-Event-ID (seen on the
    wire through the Network domain), gets no duplicate of the state it had,
    and receives the next change;
(c) the same page against a genidd without --cors-origin is refused:
    EventSource ends CLOSED, fetch fails.

Prints one line per check and exits non-zero, naming what is missing, on the
first failure. Every wait is bounded.
"""

import functools
import http.server
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import websocket

STARTED = time.monotonic()


def say(text):
    print(f"check-browser: [{time.monotonic() - STARTED:5.1f} s] {text}", flush=True)


class CheckFailed(Exception):
    pass


def require(condition, what):
    if not condition:
        raise CheckFailed(what)


def wait_for(what, predicate, timeout, interval=0.01):
    """Polls `predicate` until it returns a true value; returns it, or raises naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise CheckFailed(f"{what} (waited {timeout} s)")
        time.sleep(interval)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Genidd:
    """One genidd on a fixed port and state directory, restartable."""

    def __init__(self, binary, work, name, arguments):
        self.binary, self.name, self.arguments = binary, name, arguments
        self.directory = work / name
        self.directory.mkdir()
        self.counter = self.directory / "counter"
        self.write(1)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = None
        self.starts = 0

    def start(self):
        self.starts += 1
        log = open(self.directory / f"genidd-{self.starts}.log", "w")
        self.process = subprocess.Popen(
            [
                self.binary, "serve", "--source", f"file:{self.counter}", "--state-dir", str(self.directory / "state"),
                "--listen", f"127.0.0.1:{self.port}", "--no-unix", "--heartbeat", "1s", *self.arguments,
            ],
            stdout=log, stderr=subprocess.STDOUT,
        )
        wait_for(f"genidd ({self.name}) ready on port {self.port}", lambda: " ready " in self.log(), 10)

    def log(self):
        return (self.directory / f"genidd-{self.starts}.log").read_text()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def write(self, value):
        fresh = self.counter.with_suffix(".new")
        fresh.write_text(f"{value}\n")
        fresh.rename(self.counter)

    def state(self):
        with urllib.request.urlopen(self.base + "/v1/generation", timeout=5) as response:
            return json.load(response)


class DevTools:
    """A page target of a headless chromium, over its DevTools WebSocket."""

    def __init__(self, work):
        profile = work / "chromium-profile"
        self.stderr = open(work / "chromium.log", "w")
        self.process = subprocess.Popen(
            [
                os.environ.get("CHROMIUM", "chromium"), "--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
                "--disable-background-networking", "--disable-component-update", "--disable-extensions",
                f"--user-data-dir={profile}", "--remote-debugging-port=0", "about:blank",
            ],
            stdout=self.stderr, stderr=subprocess.STDOUT,
        )
        active = profile / "DevToolsActivePort"
        port = wait_for("chromium's DevToolsActivePort", lambda: active.exists() and active.read_text().split("\n")[0], 30)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as response:
            pages = [target for target in json.load(response) if target["type"] == "page"]
        require(pages, "chromium has a page target")
        self.socket = websocket.create_connection(pages[0]["webSocketDebuggerUrl"], timeout=10, suppress_origin=True)
        self.ids = itertools.count(1)
        self.events = []
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/version", timeout=5) as response:
            self.version = json.load(response)["Browser"]

    def call(self, method, **params):
        number = next(self.ids)
        self.socket.send(json.dumps({"id": number, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == number:
                if "error" in message:
                    raise CheckFailed(f"DevTools {method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def pump(self):
        """Takes the events that arrived meanwhile (without waiting long)."""
        self.socket.settimeout(0.01)
        try:
            while True:
                self.events.append(json.loads(self.socket.recv()))
        except websocket.WebSocketTimeoutException:
            pass
        finally:
            self.socket.settimeout(10)

    def evaluate(self, expression, awaiting=False):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=awaiting)
        if "exceptionDetails" in result:
            raise CheckFailed(f"the page threw for {expression!r}: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def navigate(self, url):
        self.call("Page.navigate", url=url)
        wait_for(f"{url} loaded", lambda: self.evaluate("document.readyState") == "complete", 10)

    def close(self):
        try:
            self.socket.close()
        finally:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *arguments):
        pass


def serve_directory(directory, port):
    handler = functools.partial(QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def status_page(browser, genidd):
    """(a) The status page shows a change within 1 s."""
    browser.navigate(genidd.base + "/")
    wait_for("the status page's EventSource is live", lambda: browser.evaluate("document.getElementById('stream').textContent") == "live", 5)
    before = genidd.state()
    text = lambda selector: browser.evaluate(f"document.getElementById('{selector}').textContent")
    wait_for("the status page shows the current seq", lambda: text("seq") == str(before["seq"]), 5)
    start = time.monotonic()
    genidd.write(before["generation"] + 1)
    wait_for("the status page shows the change within 1 s", lambda: text("seq") == str(before["seq"] + 1), 1.0, 0.005)
    elapsed = time.monotonic() - start
    require(text("generation") == str(before["generation"] + 1), "the status page shows the new generation")
    rows = lambda: browser.evaluate("[...document.querySelectorAll('#changes tr')].map(r => r.cells[0].textContent)")
    wait_for("the status page lists the change first in its last changes", lambda: (rows() or [None])[0] == str(before["seq"] + 1), 3)
    require(text("sse") not in ("", "…"), "the status page shows the subscriber count")
    browser.pump()
    blocked = [event for event in browser.events if "Content Security Policy" in json.dumps(event)]
    require(not blocked, f"no CSP violation on the status page: {blocked[:1]}")
    say(f"ok   (a) the status page showed seq {before['seq'] + 1} {elapsed * 1000:.0f} ms after the counter was written")


def status_page_with_token(browser, genidd, token):
    """(a) With --read-token-file the status page reads with the token from its URL's fragment."""
    browser.navigate(genidd.base + "/")
    text = lambda selector: browser.evaluate(f"document.getElementById('{selector}')?.textContent")
    wait_for("without the token the status page reports the 401", lambda: "401" in text("problem"), 5)
    browser.navigate("about:blank")  # a fresh load: a new fragment alone would not reload the page
    browser.navigate(genidd.base + "/#access_token=" + token)
    wait_for("with #access_token the status page's EventSource is live", lambda: text("stream") == "live", 5)
    wait_for("with #access_token the status page shows the seq", lambda: text("seq") == "1", 5)
    require(text("problem") == "", f"no problem shown: {text('problem')!r}")
    say("ok   (a) with --read-token-file the status page reads with #access_token=TOKEN (and shows the 401 without)")


def other_origin(browser, genidd, page_origin):
    """(b) A page on an allowed origin gets changes, and resumes with Last-Event-ID after a restart."""
    browser.events.clear()
    browser.call("Network.enable")
    browser.navigate(f"{page_origin}/browser.html?genidd={genidd.base}")
    lines = lambda: browser.evaluate("document.getElementById('log').textContent").splitlines()
    first = genidd.state()
    tag = lambda state, seq: f"id={state['instance']}.{seq}"
    wait_for("the page on the other origin receives the current state", lambda: any(tag(first, first["seq"]) in line for line in lines()), 5)
    probe = browser.evaluate(
        """(async () => {
             const first = await fetch(genidd + "/v1/generation");
             const etag = first.headers.get("ETag");
             const again = await fetch(genidd + "/v1/generation", { headers: { "If-None-Match": etag } });
             return { first: first.status, etag, again: again.status };
           })()""",
        awaiting=True,
    )
    require(probe["first"] == 200 and probe["etag"] and probe["again"] == 304,
            f"fetch reads the exposed ETag and a preflighted If-None-Match gets 304: {probe}")
    genidd.write(first["generation"] + 1)
    seq = first["seq"] + 1
    wait_for("the page on the other origin receives the change", lambda: any(tag(first, seq) in line for line in lines()), 2)
    say(f"ok   (b) the page on {page_origin} received seq {seq}; fetch read ETag {probe['etag']} and got 304")

    genidd.stop()
    restarted_at = len(browser.events)
    wait_for("the page notices the restart", lambda: "reconnecting" in lines(), 5)
    genidd.start()
    expected_id = f"{first['instance']}.{seq}"

    def resumed():
        browser.pump()
        for event in browser.events[restarted_at:]:
            if event.get("method") == "Network.requestWillBeSentExtraInfo":
                headers = {name.lower(): value for name, value in event["params"]["headers"].items()}
                if headers.get("last-event-id"):
                    return headers["last-event-id"]
        return None

    sent = wait_for("the page reconnects to the restarted genidd sending Last-Event-ID", resumed, 8)
    require(sent == expected_id, f"the reconnection sent Last-Event-ID {expected_id}, not {sent}")
    wait_for("the reconnected stream is open", lambda: browser.evaluate("events.readyState") == 1, 5)
    genidd.write(first["generation"] + 2)
    wait_for("the resumed page receives the next change", lambda: any(tag(first, seq + 1) in line for line in lines()), 3)
    repeated = [line for line in lines() if tag(first, seq) in line]
    require(len(repeated) == 1, f"the resumed stream skipped the state the page had: {repeated}")
    say(f"ok   (b) after a restart the page sent Last-Event-ID {sent}, got no repeat, and received seq {seq + 1}")
    browser.call("Network.disable")


def refused(browser, genidd, page_origin):
    """(c) Without --cors-origin the browser refuses the page."""
    browser.navigate(f"{page_origin}/browser.html?genidd={genidd.base}")
    wait_for("EventSource ends CLOSED without CORS", lambda: browser.evaluate("events.readyState") == 2, 5)
    log = browser.evaluate("document.getElementById('log').textContent")
    require("seq=" not in log and "refused" in log, f"the page received nothing and said so: {log!r}")
    outcome = browser.evaluate(
        """fetch(genidd + "/v1/generation").then(r => "read " + r.status, e => "refused: " + e.name)""", awaiting=True
    )
    require(outcome.startswith("refused"), f"fetch is refused without CORS: {outcome}")
    say(f"ok   (c) without --cors-origin EventSource ended CLOSED and fetch was {outcome}")


def main():
    binary, examples, work = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    page_port = free_port()
    page_origin = f"http://localhost:{page_port}"
    allowed = Genidd(binary, work, "allowed", ["--cors-origin", page_origin])
    plain = Genidd(binary, work, "plain", [])
    token = "browser-check-0123456789abcdef"
    (work / "read.token").write_text(token + "\n")
    (work / "read.token").chmod(0o600)
    guarded = Genidd(binary, work, "guarded", ["--read-token-file", str(work / "read.token"), "--read-token-query"])
    server = serve_directory(examples, page_port)
    browser = None
    try:
        allowed.start()
        plain.start()
        guarded.start()
        browser = DevTools(work)
        say(f"{browser.version}; pages from {page_origin}; genidd on {allowed.base} (--cors-origin) and {plain.base}")
        status_page(browser, allowed)
        status_page_with_token(browser, guarded, token)
        other_origin(browser, allowed, page_origin)
        refused(browser, plain, page_origin)
    except CheckFailed as failure:
        say(f"FAIL {failure}")
        for genidd in (allowed, plain, guarded):
            if genidd.starts:
                say(f"genidd ({genidd.name}) log:\n{genidd.log()[-2000:]}")
        return 1
    finally:
        if browser:
            browser.close()
        for genidd in (allowed, plain, guarded):
            genidd.stop()
        server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
