"""Generates a Python client from api/openapi.yaml with openapi-python-client
and calls a live genidd with it, as a user of a generated client would.

Usage: generated_client.py SPEC WORK_DIR BASE_URL

Operations marked `x-genidd-stream` (the SSE stream, which never ends) are
left out first, as the spec asks of generators that cannot stream. Then, with
the anonymous `Client` (reads need no `AuthenticatedClient`): the generation,
the same with `If-None-Match` (304), the watchers, the status. Prints one line
per call and exits non-zero on the first surprise.
"""

import json
import subprocess
import sys
from pathlib import Path

import yaml

spec_path, work, base = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
spec = yaml.safe_load(spec_path.read_text())
left_out = []
for path, item in spec["paths"].items():
    for method, operation in list(item.items()):
        if isinstance(operation, dict) and operation.get("x-genidd-stream"):
            left_out.append(f"{method.upper()} {path}")
            del item[method]
if left_out != ["GET /v1/events"]:
    sys.exit(f"generated client: expected only GET /v1/events to be marked x-genidd-stream, got {left_out}")
(work / "spec.json").write_text(json.dumps(spec))
# No post hooks: they run ruff, which is not needed to use the client.
(work / "config.yaml").write_text("post_hooks: []\n")
subprocess.run(
    [
        str(Path(sys.executable).parent / "openapi-python-client"), "generate", "--path", str(work / "spec.json"),
        "--output-path", str(work / "genidd_client"), "--meta", "none", "--config", str(work / "config.yaml"),
    ],
    check=True,
)
sys.path.insert(0, str(work))

from genidd_client import Client  # noqa: E402
from genidd_client.api.generation import get_generation  # noqa: E402
from genidd_client.api.status import get_status  # noqa: E402
from genidd_client.api.watchers import list_watchers  # noqa: E402
from genidd_client.models import GenerationState, Status, WatcherList  # noqa: E402


def expect(what, condition, detail):
    print(f"generated client: {'ok  ' if condition else 'FAIL'} {what}: {detail}", flush=True)
    if not condition:
        sys.exit(1)


with Client(base_url=base) as client:
    reply = get_generation.sync_detailed(client=client)
    state = reply.parsed
    expect("get_generation with an anonymous Client", reply.status_code == 200 and isinstance(state, GenerationState),
           f"{reply.status_code} seq={getattr(state, 'seq', None)}")
    etag = reply.headers.get("ETag")
    expect("the ETag names the state", etag == f'"{state.instance}.{state.seq}"', etag)
    cached = get_generation.sync_detailed(client=client, if_none_match=etag)
    expect("If-None-Match through the generated client", cached.status_code == 304, f"{cached.status_code}")
    watchers = list_watchers.sync(client=client)
    expect("list_watchers", isinstance(watchers, WatcherList) and watchers.seq == state.seq,
           f"{len(watchers.watchers)} watchers at seq {watchers.seq}")
    status = get_status.sync(client=client)
    expect("get_status", isinstance(status, Status) and status.generation.seq == state.seq,
           f"{len(status.recent_changes)} recent changes, {status.subscribers.sse} SSE subscribers")
