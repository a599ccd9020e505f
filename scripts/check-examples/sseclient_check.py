"""Reads genidd's event stream with sseclient-py and checks what it yields.

Usage: sseclient_check.py BASE_URL EVENTS

Exits once EVENTS generation events arrived. Fails on any event whose data
is empty (a keepalive or retry: block dispatched as a message) or whose id is
missing (sseclient-py reports an event without id: line as id None).
"""

import json
import sys

import requests
import sseclient

base, wanted = sys.argv[1], int(sys.argv[2])
response = requests.get(base + "/v1/events", stream=True, headers={"Accept": "text/event-stream"}, timeout=30)
response.raise_for_status()
seen = 0
for event in sseclient.SSEClient(response).events():
    if not event.data:
        sys.exit(f"sseclient-py: an empty {event.event!r} event (a keepalive or retry: block was dispatched)")
    if not event.id:
        sys.exit(f"sseclient-py: a {event.event!r} event without an id")
    data = json.loads(event.data)
    if event.event == "generation":
        print(f"seq={data['seq']} generation={data['generation']} id={event.id}", flush=True)
        seen += 1
        if seen == wanted:
            break
