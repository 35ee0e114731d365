#!/usr/bin/env bash
# test_fleet_files.sh - the deployment files, checked offline (no cluster, no
# registry): the Kubernetes manifests render with `kubectl kustomize` and
# pass structural checks (probes, requests, non-root, read-only root file
# system, selectors that match, PDB/HPA/Service pointing at what exists);
# HAProxy accepts its configuration (haproxy -c); Compose accepts the fleet
# file (docker-compose config). Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
PG_TEST_SHOW_FAILURE=1
. tests/postgresql/lib.sh
tmp=$(mktemp -d /tmp/mlpd-fleetfiles-XXXXXX)
check "kubectl kustomize docker/k8s" bash -c "kubectl kustomize docker/k8s >$tmp/k8s.yaml"
check "kubectl kustomize docker/k8s/postgres-example" \
    bash -c "kubectl kustomize docker/k8s/postgres-example >$tmp/pg.yaml"
check "manifests: structure" python3 - "$tmp/k8s.yaml" "$tmp/pg.yaml" <<'PYEOF'
import sys, yaml
docs = [d for f in sys.argv[1:] for d in yaml.safe_load_all(open(f)) if d]
by = {}
for d in docs:
    assert d.get("apiVersion") and d.get("kind") and d["metadata"].get("name"), d
    by.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
deps = by["Deployment"]
assert set(deps) == {"mlpd-api", "mlpd-trainer"}, deps.keys()
for name, d in deps.items():
    spec = d["spec"]; pod = spec["template"]["spec"]
    assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()
    assert pod["securityContext"]["runAsNonRoot"] is True
    c = pod["containers"][0]
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["resources"]["requests"]["cpu"] and c["resources"]["requests"]["memory"]
    env = {e["name"]: e for e in c["env"]}
    assert env["MLPD_DB"]["valueFrom"]["secretKeyRef"]["key"] == "db-uri"
    assert env["MLPD_ROLE"]["value"] == {"mlpd-api": "api", "mlpd-trainer": "trainer"}[name]
    mounts = {m["mountPath"] for m in c["volumeMounts"]}
    assert "/tmp" in mounts  # writable scratch beside a read-only root
# The api pods keep serving after SIGTERM until the Service dropped them,
# within the grace period (docs/scale-out.md, rolling restarts).
api_pod = deps["mlpd-api"]["spec"]["template"]["spec"]
api_env = {e["name"]: e for e in api_pod["containers"][0]["env"]}
assert 0 < int(api_env["MLPD_SHUTDOWN_DELAY"]["value"]) + 5 < api_pod["terminationGracePeriodSeconds"]
api = deps["mlpd-api"]["spec"]["template"]["metadata"]["labels"]
svc = by["Service"]["mlpd"]["spec"]["selector"]
assert svc.items() <= api.items()
pdb = by["PodDisruptionBudget"]["mlpd-api"]["spec"]["selector"]["matchLabels"]
assert pdb.items() <= api.items()
hpa = by["HorizontalPodAutoscaler"]["mlpd-api"]["spec"]
assert hpa["scaleTargetRef"]["name"] in deps and hpa["minReplicas"] >= 2
assert "db-uri" in by["Secret"]["mlpd"]["stringData"]
sts = by["StatefulSet"]["mlpd-postgres"]["spec"]
assert sts["selector"]["matchLabels"].items() <= sts["template"]["metadata"]["labels"].items()
print("%d documents" % len(docs))
PYEOF
check "haproxy -c docker/haproxy/haproxy.cfg" haproxy -c -f docker/haproxy/haproxy.cfg
# The secret file must exist for `config`; a throwaway one, removed after.
made=0; [ -e docker/pg-password ] || { printf x >docker/pg-password; made=1; }
check "docker-compose config docker/compose.fleet.yaml" \
    docker-compose -f docker/compose.fleet.yaml config -q
[ $made = 1 ] && rm -f docker/pg-password
rm -rf "$tmp"
summary
