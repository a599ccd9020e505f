#!/usr/bin/env python3
"""Host-side helpers for scripts/vm-e2e.sh (Python standard library only).

Every command is bounded by a timeout, prints its findings on stdout (times
are host wall-clock epoch milliseconds, so the shell can subtract them) and
exits non-zero with a message on stderr when something is wrong.

  free-port                               a free TCP port on 127.0.0.1
  qmp SOCK COMMAND [ARGS_JSON]            one QMP command; prints its "return" as JSON
  save SOCK FILE TIMEOUT                  stop, migrate to `exec:cat > FILE`, wait for completed, quit
  snapshot SOCK FILE TIMEOUT              the same without quit: the VM stays (postmigrate) for a `cont`
  incoming SOCK PID TIMEOUT               wait until an -incoming QEMU has loaded the state (paused)
  resume SOCK PID SERIAL URL LAST_ID TIMEOUT SETTLE TAG=REGEX…
                                          cont, then time the console lines and an SSE subscriber
  wait-serial FILE PID TIMEOUT TAG=REGEX… wait until each REGEX matched a line of a growing file
  sse URL LAST_ID FIRST_TIMEOUT SETTLE    subscribe with Last-Event-ID, report events (see below)
  get URL TIMEOUT                         GET, print the status and body as JSON
"""

import http.client
import json
import os
import re
import socket
import sys
import threading
import time
import urllib.parse


def now_ms():
    return int(time.time() * 1000)


def die(message):
    print(f"vmctl: {message}", file=sys.stderr)
    sys.exit(1)


def process_alive(pid):
    """True while PID exists and is not a zombie (QEMU is the shell's child)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class QMP:
    """A minimal QMP client: one connection, synchronous commands, events skipped."""

    def __init__(self, path, timeout):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.settimeout(max(0.1, deadline - time.monotonic()))
                self.sock.connect(path)
                break
            except OSError as error:
                self.sock.close()
                if time.monotonic() >= deadline:
                    die(f"QMP socket {path} not reachable: {error}")
                time.sleep(0.02)
        self.sock.settimeout(timeout)
        self.reader = self.sock.makefile("r", encoding="utf-8")
        greeting = self._message()
        if "QMP" not in greeting:
            die(f"unexpected QMP greeting: {greeting}")
        self.execute("qmp_capabilities")

    def _message(self):
        try:
            line = self.reader.readline()
        except OSError as error:  # includes the socket timeout
            die(f"no answer on QMP: {error}")
        if not line:
            die("QEMU closed the QMP connection")
        return json.loads(line)

    def execute(self, command, arguments=None):
        request = {"execute": command}
        if arguments:
            request["arguments"] = arguments
        try:
            self.sock.sendall((json.dumps(request) + "\n").encode())
        except OSError as error:
            die(f"QMP {command}: {error}")
        while True:
            message = self._message()
            if "event" in message:
                continue
            if "error" in message:
                die(f"QMP {command} failed: {message['error']}")
            return message.get("return")

    def close(self):
        self.sock.close()


def command_qmp(path, command, arguments=None):
    qmp = QMP(path, 10)
    result = qmp.execute(command, json.loads(arguments) if arguments else None)
    qmp.close()
    print(json.dumps(result))


def command_save(path, target, timeout, quit=True):
    """Stops the VM and saves its whole state to TARGET through migration;
    then quits QEMU, or (snapshot) leaves it stopped for a `cont`."""
    deadline = time.monotonic() + float(timeout)
    qmp = QMP(path, 10)
    started = now_ms()
    qmp.execute("stop")
    # QEMU 7.2 caps migration at 32 MiB/s by default; a local file needs no cap.
    qmp.execute("migrate-set-parameters", {"max-bandwidth": 64 << 30})
    qmp.execute("migrate", {"uri": f"exec:cat > '{target}'"})
    while True:
        status = qmp.execute("query-migrate")
        if status.get("status") == "completed":
            break
        if status.get("status") in ("failed", "cancelled"):
            die(f"migration {status.get('status')}: {status.get('error-desc', status)}")
        if time.monotonic() >= deadline:
            die(f"migration not completed after {timeout} s: {status}")
        time.sleep(0.02)
    saved = now_ms()
    if quit:
        try:
            qmp.execute("quit")
        except SystemExit:
            pass  # QEMU may close the socket before answering
    qmp.close()
    print(json.dumps({"started": started, "saved": saved, "bytes": os.path.getsize(target)}))


def command_incoming(path, pid, timeout):
    """Waits until an -incoming QEMU has loaded the state and checks it is paused."""
    deadline = time.monotonic() + float(timeout)
    qmp = QMP(path, float(timeout))
    while True:
        status = qmp.execute("query-status")["status"]
        if status != "inmigrate":
            break
        if not process_alive(pid):
            die("QEMU exited while loading the state")
        if time.monotonic() >= deadline:
            die(f"still inmigrate after {timeout} s")
        time.sleep(0.02)
    loaded = now_ms()
    qmp.close()
    # The source was stopped before the save, so the loaded VM stays paused.
    if status != "paused":
        die(f"after loading the state QEMU is {status!r}, expected 'paused'")
    print(json.dumps({"loaded": loaded}))


class SerialWatch:
    """Follows a growing console log; remembers when each TAG's REGEX first matched."""

    def __init__(self, path, specs):
        self.path = path
        self.wanted = {}
        for spec in specs:
            tag, _, pattern = spec.partition("=")
            self.wanted[tag] = re.compile(pattern)
        self.found = {}
        self.offset = 0
        self.pending = ""

    def poll(self):
        try:
            with open(self.path, "rb") as serial:
                serial.seek(self.offset)
                chunk = serial.read()
        except FileNotFoundError:
            chunk = b""
        seen = now_ms()
        self.offset += len(chunk)
        self.pending += chunk.decode("utf-8", "replace")
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            line = line.rstrip("\r")  # the console ends lines with CR LF
            for tag, pattern in self.wanted.items():
                if tag not in self.found and pattern.search(line):
                    self.found[tag] = {"t": seen, "line": line}
        return len(self.found) == len(self.wanted)

    def missing(self):
        return ", ".join(f"{tag} (/{self.wanted[tag].pattern}/)" for tag in self.wanted if tag not in self.found)


def watch_serial(path, pid, timeout, specs):
    """Polls every 5 ms until every REGEX matched; returns (found, error)."""
    watch = SerialWatch(path, specs)
    deadline = time.monotonic() + float(timeout)
    while not watch.poll():
        if not process_alive(pid):
            return watch.found, f"{path}: QEMU exited before a line matched {watch.missing()}"
        if time.monotonic() >= deadline:
            return watch.found, f"{path}: no line after {timeout} s for {watch.missing()}"
        time.sleep(0.005)
    return watch.found, None


def command_wait_serial(path, pid, timeout, specs):
    """Reports the first line matching each TAG=REGEX, with when it was seen."""
    found, error = watch_serial(path, pid, timeout, specs)
    print(json.dumps(found))
    if error:
        die(error)


def subscribe(url, last_id, first_timeout, settle):
    """Subscribes to URL (with Last-Event-ID unless LAST_ID is '-'), retrying the
    connection until FIRST_TIMEOUT. Collects events until SETTLE seconds after
    the first one, or until FIRST_TIMEOUT when none comes. Returns
    {"connected": t, "events": [{"t": ..., "event": ..., "id": ..., "data": {...}}]} or
    {"error": ...}."""
    parsed = urllib.parse.urlsplit(url)
    first_deadline = time.monotonic() + float(first_timeout)
    headers = {"Accept": "text/event-stream"}
    if last_id != "-":
        headers["Last-Event-ID"] = last_id
    while True:
        # A paused or still-busy guest answers late: wait up to the deadline.
        remaining = max(0.1, first_deadline - time.monotonic())
        connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=remaining)
        try:
            connection.request("GET", parsed.path, headers=headers)
            response = connection.getresponse()
            if response.status == 200:
                break
            message = f"status {response.status}"
        except (OSError, http.client.HTTPException) as error:
            message = str(error)
        connection.close()
        if time.monotonic() >= first_deadline:
            return {"error": f"{url}: no stream within {first_timeout} s: {message}"}
        time.sleep(0.05)
    connected = now_ms()
    events = []
    event = {}
    deadline = first_deadline
    try:
        while time.monotonic() < deadline:
            connection.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                line = response.readline()
            except (socket.timeout, TimeoutError):
                break
            if not line:
                return {"error": f"{url}: the stream ended", "events": events}
            line = line.decode().rstrip("\r\n")
            if line.startswith("event: "):
                event["event"] = line[7:]
            elif line.startswith("id: "):
                event["id"] = line[4:]
            elif line.startswith("data: "):
                event["data"] = json.loads(line[6:])
            elif line == "" and "data" in event:
                event["t"] = now_ms()
                events.append(event)
                event = {}
                if len(events) == 1:
                    deadline = time.monotonic() + float(settle)
            elif line == "":
                event = {}
    finally:
        connection.close()
    return {"connected": connected, "events": events}


def command_sse(url, last_id, first_timeout, settle):
    result = subscribe(url, last_id, first_timeout, settle)
    print(json.dumps(result))
    if "error" in result:
        die(result["error"])


def command_resume(path, pid, serial, url, last_id, timeout, settle, *specs):
    """Resumes a loaded VM and times what every observer sees afterwards.

    Starts an SSE subscriber (with Last-Event-ID: LAST_ID) and follows the
    serial console, both before sending `cont`, so that every time is measured
    from `cont`. With TAG=REGEX specs, waits until each matched a console line
    (at most TIMEOUT s); the subscriber collects events until SETTLE s after
    its first one (or TIMEOUT s when none comes). Prints
    {"resumed": t, "serial": {TAG: {"t", "line"}}, "sse": {...}}."""
    qmp = QMP(path, 10)
    result = {}
    subscriber = threading.Thread(
        target=lambda: result.update(sse=subscribe(url, last_id, timeout, settle)), daemon=True
    )
    subscriber.start()
    resumed = now_ms()
    qmp.execute("cont")
    status = qmp.execute("query-status")["status"]
    qmp.close()
    if status != "running":
        die(f"after cont QEMU is {status!r}")
    found, error = watch_serial(serial, pid, timeout, specs)
    subscriber.join(float(timeout) + float(settle) + 5)
    result.update(resumed=resumed, serial=found)
    print(json.dumps(result))
    if error:
        die(error)
    if subscriber.is_alive():
        die("the SSE subscriber did not finish")
    if "error" in result["sse"]:
        die(result["sse"]["error"])


def command_get(url, timeout):
    parsed = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=float(timeout))
    try:
        connection.request("GET", parsed.path + (f"?{parsed.query}" if parsed.query else ""))
        response = connection.getresponse()
        body = response.read().decode()
    except (OSError, http.client.HTTPException) as error:
        die(f"GET {url}: {error}")
    finally:
        connection.close()
    try:
        body = json.loads(body)
    except ValueError:
        pass
    print(json.dumps({"status": response.status, "body": body}))


def command_free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        print(probe.getsockname()[1])


def main(argv):
    commands = {
        "free-port": (command_free_port, 0, 0),
        "qmp": (command_qmp, 2, 3),
        "save": (command_save, 3, 3),
        "snapshot": (lambda p, f, t: command_save(p, f, t, quit=False), 3, 3),
        "incoming": (command_incoming, 3, 3),
        "resume": (command_resume, 7, 99),
        "wait-serial": (lambda f, p, t, *specs: command_wait_serial(f, p, t, specs), 4, 99),
        "sse": (command_sse, 4, 4),
        "get": (command_get, 2, 2),
    }
    if len(argv) < 2 or argv[1] not in commands:
        die(__doc__)
    function, least, most = commands[argv[1]]
    arguments = argv[2:]
    if not least <= len(arguments) <= most:
        die(f"{argv[1]}: wrong number of arguments\n{__doc__}")
    function(*arguments)


if __name__ == "__main__":
    main(sys.argv)
