"""Prints every VM generation change genidd reports, with httpx-sse.

    pip install httpx httpx-sse
    python3 python_watch.py [BASE_URL] [EVENTS]

BASE_URL defaults to http://127.0.0.1:8080; with EVENTS it exits after that
many generation events (the current state counts as the first). A read token,
when genidd asks for one, comes from $GENIDD_TOKEN. On a broken connection it
reconnects after the server's retry: delay, sending Last-Event-ID, so that a
change made meanwhile is still reported and nothing is reported twice.
"""

import json
import os
import sys
import time

import httpx
from httpx_sse import connect_sse

base = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080"
remaining = int(sys.argv[2]) if len(sys.argv) > 2 else -1
headers = {"Authorization": "Bearer " + os.environ["GENIDD_TOKEN"]} if "GENIDD_TOKEN" in os.environ else {}
last_id, retry_seconds = None, 2.0

while remaining != 0:
    if last_id:
        headers["Last-Event-ID"] = last_id
    try:
        # No read timeout: genidd's keepalive comments keep idle streams alive.
        with httpx.Client(timeout=httpx.Timeout(10.0, read=None)) as client:
            with connect_sse(client, "GET", base + "/v1/events", headers=headers) as source:
                source.response.raise_for_status()
                for event in source.iter_sse():
                    if event.retry:
                        retry_seconds = event.retry / 1000
                    data = json.loads(event.data)  # every event genidd dispatches carries JSON
                    last_id = event.id or last_id
                    if event.event == "generation":
                        print(f"seq={data['seq']} generation={data['generation']} id={event.id}", flush=True)
                        remaining -= 1
                        if remaining == 0:
                            break
                    elif event.event == "clock-disruption":
                        print(f"clock disruption: marker {data['disruption_marker']}", flush=True)
    except httpx.TransportError as error:
        print(f"reconnecting in {retry_seconds} s: {error}", file=sys.stderr, flush=True)
        time.sleep(retry_seconds)
