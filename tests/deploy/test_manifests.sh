#!/usr/bin/env bash
# tests/deploy/test_manifests.sh - the chart and the plain manifests, offline:
#   - deploy/sync.sh --check: deploy/kubernetes/sluice.yaml is the chart's
#     rendering, the chart's RBAC and CRDs are copies of deploy/kubernetes/'s;
#   - helm lint --strict and helm template, default values and every
#     deploy/helm/sluice/ci/*.yaml;
#   - every object of every rendering and every plain manifest validated
#     against the Kubernetes API's OpenAPI definitions, unknown fields
#     rejected (k8s_validate.py);
#   - each rendering says what issue #13 asks (check_render.py), and the chart
#     renders the RBAC objects of deploy/kubernetes/rbac.yaml;
#   - each manifest in bad/ fails validation and each values file in
#     bad-values/ fails the chart's schema, with the message in its
#     "# expect:" line.
# Real helm 3.17 and kubectl 1.32 (npm), python3-jsonschema (Debian).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CHART=$ROOT/deploy/helm/sluice
TOOLS=$(bash "$HERE/tools.sh")
HELM=$TOOLS/bin/helm
KUBECTL=$TOOLS/bin/kubectl
OPENAPI=$TOOLS/openapi/swagger.json
PY=/usr/bin/python3
WORK=$(mktemp -d /tmp/sluice-deploy-test.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export HELM_CACHE_HOME=$WORK/helm-cache HELM_CONFIG_HOME=$WORK/helm-config HELM_DATA_HOME=$WORK/helm-data

pass=0
fail=0
ok() { echo "ok   $*"; pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }
now_ms() { date +%s%3N; }

"$HELM" version --short
"$KUBECTL" version --client 2>/dev/null | sed -n 1p || true

# 1. plain manifests and chart in sync
if HELM=$HELM bash "$ROOT/deploy/sync.sh" --check; then
	ok "deploy/kubernetes/sluice.yaml, chart RBAC and CRDs in sync (deploy/sync.sh --check)"
else
	bad "deploy/sync.sh --check"
fi

# 2. lint, render, validate: defaults and every ci/ values file
render_ms=0
validate_ms=0
variants=(defaults)
for f in "$CHART"/ci/*-values.yaml; do
	v=$(basename "$f" -values.yaml)
	variants+=("$v")
done
for v in "${variants[@]}"; do
	args=()
	[ "$v" != defaults ] && args=(-f "$CHART/ci/$v-values.yaml")
	if "$HELM" lint --strict "$CHART" "${args[@]}" >"$WORK/lint.log" 2>&1; then
		ok "helm lint --strict ($v)"
	else
		bad "helm lint --strict ($v)"
		cat "$WORK/lint.log"
	fi
	t0=$(now_ms)
	if "$HELM" template sluice "$CHART" --namespace kube-system --include-crds "${args[@]}" \
		>"$WORK/$v.yaml" 2>"$WORK/template.log"; then
		ok "helm template ($v): $(grep -c '^kind:' "$WORK/$v.yaml") objects"
	else
		bad "helm template ($v)"
		cat "$WORK/template.log"
		continue
	fi
	t1=$(now_ms)
	if "$PY" "$HERE/k8s_validate.py" --openapi "$OPENAPI" "$WORK/$v.yaml"; then
		ok "schema validation, unknown fields rejected ($v)"
	else
		bad "schema validation ($v)"
	fi
	t2=$(now_ms)
	render_ms=$((render_ms + t1 - t0))
	validate_ms=$((validate_ms + t2 - t1))
	if [ -f "$HERE/check_render.py" ] && "$PY" "$HERE/check_render.py" "$v" "$WORK/$v.yaml"; then
		ok "rendering says what the DaemonSet must ($v)"
	else
		bad "rendering checks ($v)"
	fi
done
echo "timing: ${#variants[@]} renderings in ${render_ms} ms, validated in ${validate_ms} ms"

# 3. the plain manifests, each file on its own (as kubectl apply -f would)
mapfile -t plain < <(find "$ROOT/deploy/kubernetes" -name '*.yaml' | sort)
t0=$(now_ms)
if "$PY" "$HERE/k8s_validate.py" --openapi "$OPENAPI" "${plain[@]}"; then
	ok "plain manifests valid: ${plain[*]#"$ROOT"/}"
else
	bad "plain manifests"
fi
echo "timing: plain manifests validated in $(($(now_ms) - t0)) ms"

# 4. RBAC: the chart renders deploy/kubernetes/rbac.yaml's objects
if [ -f "$ROOT/deploy/kubernetes/rbac.yaml" ]; then
	if "$PY" "$HERE/check_render.py" rbac "$WORK/defaults.yaml" "$ROOT/deploy/kubernetes/rbac.yaml"; then
		ok "chart RBAC = deploy/kubernetes/rbac.yaml"
	else
		bad "chart RBAC differs from deploy/kubernetes/rbac.yaml"
	fi
else
	# until the Kubernetes source lands rbac.yaml, the chart's copy is checked alone
	echo "note: deploy/kubernetes/rbac.yaml not there yet; checking the chart's files/rbac.yaml"
	if "$PY" "$HERE/check_render.py" rbac "$WORK/defaults.yaml" "$CHART/files/rbac.yaml"; then
		ok "chart RBAC = files/rbac.yaml"
	else
		bad "chart RBAC"
	fi
fi

# must_fail WHAT FILE CMD...: CMD fails and prints FILE's "# expect:" text
must_fail() {
	local what=$1 f=$2 want
	shift 2
	want=$(sed -n 's/^# expect: //p' "$f")
	if "$@" >"$WORK/out" 2>&1; then
		bad "$what accepted $(basename "$f")"
	elif grep -Eq -- "$want" "$WORK/out"; then
		ok "$what rejects $(basename "$f"): $(grep -E -- "$want" "$WORK/out" | head -1 | sed 's/^ *//')"
	else
		bad "$what rejected $(basename "$f") without '$want'"
		cat "$WORK/out"
	fi
}

# 5. broken manifests fail, with the expected message
for f in "$HERE"/bad/*.yaml; do
	must_fail "k8s_validate" "$f" "$PY" "$HERE/k8s_validate.py" --openapi "$OPENAPI" "$f"
done

# 6. bad values fail the chart's schema, in helm template and helm lint
for f in "$HERE"/bad-values/*.yaml; do
	must_fail "helm template" "$f" "$HELM" template sluice "$CHART" -f "$f"
	must_fail "helm lint --strict" "$f" "$HELM" lint --strict "$CHART" -f "$f"
done

# 7. every option the chart gives the agent is one sluiced takes: the
# rendered ConfigMap as the kubelet mounts it, the DaemonSet's args, and the
# preStop command line (--cni-uninstall parses everything, then only edits
# the CNI conf dir: a scratch one here)
BUILD=${SL_BUILD:-$ROOT/build}
if [ -x "$BUILD/agent/sluiced" ]; then
	for v in "${variants[@]}"; do
		[ -f "$WORK/$v.yaml" ] || continue
		mkdir -p "$WORK/cfg-$v" "$WORK/cni-$v"
		mapfile -t args < <("$PY" - "$WORK/$v.yaml" "$WORK/cfg-$v" <<'EOF'
import os, sys, yaml
objs = [o for o in yaml.safe_load_all(open(sys.argv[1])) if o]
cm = [o for o in objs if o["kind"] == "ConfigMap"][0]
for k, val in cm["data"].items():
    open(os.path.join(sys.argv[2], k), "w").write(val)
ds = [o for o in objs if o["kind"] == "DaemonSet"][0]
agent = [c for c in ds["spec"]["template"]["spec"]["containers"] if c["name"] == "agent"][0]
for a in agent.get("args", []):
    if not a.startswith("--config-dir"):
        print(a.replace("$(K8S_NODE_NAME)", "node-1"))
EOF
		)
		if "$BUILD/agent/sluiced" --config-dir "$WORK/cfg-$v" "${args[@]}" \
			--cni-conf-dir="$WORK/cni-$v" --cni-uninstall >"$WORK/out" 2>&1; then
			ok "sluiced takes every option of the ConfigMap and the args ($v): $(ls "$WORK/cfg-$v" | tr '\n' ' ')"
		else
			bad "sluiced refuses the chart's options ($v): $(tail -2 "$WORK/out")"
		fi
	done
else
	bad "no $BUILD/agent/sluiced to check the chart's options against"
fi

# 8. NOTES.txt tells how to watch flows (rendered by helm's template engine:
# a copy of the chart where NOTES.txt is an ordinary template)
cp -r "$CHART" "$WORK/notes-chart"
{ echo "notes: |"; sed 's/^/  /' "$CHART/templates/NOTES.txt"; } >"$WORK/notes-chart/templates/zz-notes.yaml"
"$HELM" template sluice "$WORK/notes-chart" --namespace kube-system \
	--show-only templates/zz-notes.yaml >"$WORK/notes.txt" 2>&1 || true
if grep -q 'kubectl -n kube-system exec ds/sluice -- sluice observe -f' "$WORK/notes.txt" &&
	grep -q 'register-with-taints=sluice.io/agent-not-ready=:NoExecute' "$WORK/notes.txt"; then
	ok "NOTES.txt: kubectl -n kube-system exec ds/sluice -- sluice observe -f, the taint"
else
	bad "NOTES.txt does not tell how to watch flows: $(head -5 "$WORK/notes.txt")"
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
