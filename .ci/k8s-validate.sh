#!/usr/bin/env bash
# CI: docs/deploy/kubernetes.yaml against the Kubernetes API's OpenAPI schemas, offline, with
# kubernetes-validate (PyPI; it ships the schemas). --strict: an unknown or misspelt field is an
# error, not ignored as the API server would ignore it. Two versions: 1.30, the first release whose
# kubelet has the preStop `sleep` action the manifest uses on by default, and the newest the
# package ships. Then the settings README.md ("Kubernetes") relies on are checked against each
# other: the probe on the health path, the grace period above preStop + --shutdown-timeout, no
# unavailable replica during a rollout.
# Where kubernetes-validate cannot be installed, this says so and exits 0; it never skips silently.
set -euo pipefail
cd "$(dirname "$0")/.."

manifest=${1:-docs/deploy/kubernetes.yaml}   # or another manifest to check
skip() { echo "k8s-validate: SKIPPED: $*"; exit 0; }

if ! python3 -c 'import kubernetes_validate' >/dev/null 2>&1; then
  python3 -m pip install -q kubernetes-validate >/dev/null 2>&1 \
    || python3 -m pip install -q --break-system-packages kubernetes-validate >/dev/null 2>&1 \
    || skip "kubernetes-validate could not be installed from PyPI"
fi

newest=$(python3 -m kubernetes_validate --version)
for version in 1.30.0 "$newest"; do
  echo "== k8s-validate: $manifest, Kubernetes $version, strict"
  python3 -m kubernetes_validate --strict --kubernetes-version "$version" "$manifest"
done

echo "== k8s-validate: the rollout settings agree with each other"
python3 - "$manifest" <<'EOF'
import re
import sys

import yaml  # a dependency of kubernetes-validate

docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
dep = next(d for d in docs if d["kind"] == "Deployment")
svc = next(d for d in docs if d["kind"] == "Service")
pod = dep["spec"]["template"]["spec"]
c = pod["containers"][0]
problems = []


def option(name):
    """The value of --name in args, else of MUXSERVE_NAME in env."""
    args = c.get("args", [])
    if f"--{name}" in args:
        return args[args.index(f"--{name}") + 1]
    env = {e["name"]: e.get("value") for e in c.get("env", [])}
    return env.get("MUXSERVE_" + name.upper().replace("-", "_"))


def seconds(d):
    m = re.fullmatch(r"(\d+)(ms|s|m)?", str(d))
    n = int(m.group(1))
    return {"ms": n / 1000, "s": n, "m": 60 * n, None: n}[m.group(2)]


health = option("health-path")
if not health:
    problems.append("no --health-path")
for probe in ("readinessProbe", "livenessProbe"):
    path = c.get(probe, {}).get("httpGet", {}).get("path")
    if path != health:
        problems.append(f"{probe} is on {path!r}, the health path is {health!r}")
shutdown = seconds(option("shutdown-timeout") or "8s")
pre_stop = c.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
if not pre_stop:
    problems.append("no preStop sleep: endpoints may still send connections after SIGTERM")
grace = pod.get("terminationGracePeriodSeconds", 30)
if not grace > pre_stop + shutdown:
    problems.append(f"terminationGracePeriodSeconds {grace} is not above preStop {pre_stop} s "
                    f"+ --shutdown-timeout {shutdown:g} s")
ru = dep["spec"].get("strategy", {}).get("rollingUpdate", {})
if str(ru.get("maxUnavailable")) != "0":
    problems.append(f"maxUnavailable is {ru.get('maxUnavailable')!r}, not 0")
if str(ru.get("maxSurge", "25%")) in ("0", "0%"):
    problems.append("maxSurge 0 with maxUnavailable 0 cannot roll")
if dep["spec"].get("replicas", 1) < 2:
    problems.append("fewer than 2 replicas: a rollout has no other replica to send clients to")
if svc["spec"]["selector"] != dep["spec"]["selector"]["matchLabels"]:
    problems.append("the Service's selector is not the Deployment's")
for p in problems:
    print(f"k8s-validate: {sys.argv[1]}: {p}")
if problems:
    sys.exit(1)
print(f"k8s-validate: probes on {health}, grace {grace} s > preStop {pre_stop} s + shutdown "
      f"{shutdown:g} s, maxUnavailable 0, maxSurge {ru.get('maxSurge')}: ok")
EOF
