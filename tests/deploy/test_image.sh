#!/usr/bin/env bash
# tests/deploy/test_image.sh - the OCI image from deploy/image/build.sh:
#   - built from the checkout's build (the Debian root cached outside it);
#   - skopeo inspect of the OCI layout and of the docker-archive export:
#     entrypoint, org.opencontainers.image.* labels (version, revision),
#     layers, sizes printed;
#   - unpacked with umoci; `sluiced --version` (and sluice, sluice-proxy) run
#     from the unpacked root with chroot, so every library they need is in
#     the image; nothing but the expected binaries in /usr/bin/sluice*;
#   - built twice: the same image digest (reproducible).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${SL_BUILD:-$ROOT/build}
WORK=$(mktemp -d /tmp/sluice-image-test.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

pass=0
fail=0
ok() { echo "ok   $*"; pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }

VERSION=$(sed -n 's/^project(sluice VERSION \([0-9.]*\).*/\1/p' "$ROOT/CMakeLists.txt")
REV=$(git -C "$ROOT" rev-parse HEAD)

t0=$(date +%s)
if out=$(bash "$ROOT/deploy/image/build.sh" -b "$BUILD" -o "$WORK/a" 2>"$WORK/build.log"); then
	ok "deploy/image/build.sh: $out ($(($(date +%s) - t0)) s)"
else
	bad "deploy/image/build.sh"
	tail -30 "$WORK/build.log"
	echo "$pass passed, $fail failed"
	exit 1
fi
ref=${out%% *}
tag=${ref##*:}

skopeo inspect "oci:$WORK/a/oci:$tag" >"$WORK/inspect.json"
skopeo inspect --config "oci:$WORK/a/oci:$tag" >"$WORK/config.json"
skopeo inspect --raw "oci:$WORK/a/oci:$tag" >"$WORK/manifest.json"
python3 - "$WORK" "$VERSION" "$REV" <<'EOF' || fail=$((fail + 1))
import json, sys
w, version, rev = sys.argv[1:4]
ins = json.load(open(f"{w}/inspect.json"))
cfg = json.load(open(f"{w}/config.json"))
man = json.load(open(f"{w}/manifest.json"))
labels = ins.get("Labels") or {}
ep = cfg["config"].get("Entrypoint")
sizes = [l["size"] for l in man["layers"]]
print(f"image: entrypoint {ep}, {len(sizes)} layers "
      f"({', '.join(f'{s / 1e6:.1f} MB' for s in sizes)} compressed), total {sum(sizes) / 1e6:.1f} MB")
for k in sorted(labels):
    print(f"  label {k}={labels[k]}")
bad = []
if ep != ["/usr/bin/sluiced"]: bad.append(f"entrypoint {ep}")
if labels.get("org.opencontainers.image.version") != version: bad.append("version label")
if not labels.get("org.opencontainers.image.revision", "").startswith(rev): bad.append("revision label")
if not labels.get("org.opencontainers.image.created"): bad.append("created label")
if len(sizes) != 2: bad.append(f"{len(sizes)} layers, want 2 (Debian, sluice)")
if ins.get("Architecture") != "amd64" or ins.get("Os") != "linux": bad.append("platform")
if sum(sizes) > 60e6: bad.append(f"image too large: {sum(sizes) / 1e6:.1f} MB")
for b in bad:
    print(f"FAIL image: {b}")
if not bad:
    print("ok   skopeo inspect: entrypoint, labels (version, revision, created), 2 layers, platform")
sys.exit(1 if bad else 0)
EOF
[ "$fail" = 0 ] && pass=$((pass + 1))
echo "docker-archive: $(du -h "$WORK/a/sluice-image.tar" | cut -f1)"
if skopeo inspect "docker-archive:$WORK/a/sluice-image.tar" >"$WORK/da.json" &&
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(d["Labels"]["org.opencontainers.image.version"] != sys.argv[2])' \
		"$WORK/da.json" "$VERSION"; then
	ok "docker-archive export inspects with the same labels"
else
	bad "docker-archive export"
fi

# unpack and run the binaries from the image's own root
umoci unpack --image "$WORK/a/oci:$tag" "$WORK/bundle" >/dev/null 2>&1
rootfs=$WORK/bundle/rootfs
# --version where the binary has it (else --help, which also needs every
# library resolved)
for b in sluiced sluice sluice-proxy; do
	if chroot "$rootfs" "/usr/bin/$b" --help 2>&1 | grep -q -- --version; then
		if v=$(chroot "$rootfs" "/usr/bin/$b" --version 2>&1) && grep -q "$VERSION" <<<"$v"; then
			ok "chroot: $b --version: $(echo "$v" | head -1)"
		else
			bad "chroot: $b --version: $v"
		fi
	elif chroot "$rootfs" "/usr/bin/$b" --help >/dev/null 2>&1; then
		ok "chroot: $b --help runs (no --version in this build)"
	else
		bad "chroot: $b does not run: $(chroot "$rootfs" "/usr/bin/$b" --help 2>&1 | head -2)"
	fi
done
if [ -d "$ROOT/cni" ]; then
	if [ -x "$rootfs/usr/bin/sluice-cni" ]; then ok "sluice-cni in the image"; else bad "no sluice-cni"; fi
	want="sluice sluice-cni sluice-proxy sluiced"
else
	want="sluice sluice-proxy sluiced"
fi
have=$(cd "$rootfs/usr/bin" && ls sluice* | sort | tr '\n' ' ' | sed 's/ $//')
if [ "$have" = "$want" ]; then ok "binaries: $have"; else bad "binaries: '$have', want '$want'"; fi
if chroot "$rootfs" ip -V >/dev/null 2>&1 && chroot "$rootfs" sh -c 'command -v mount' >/dev/null; then
	ok "ip and mount in the image (the agent runs ip; the bpffs init container mounts)"
else
	bad "ip or mount missing"
fi
if [ ! -e "$rootfs/usr/bin/apt" ] && [ ! -e "$rootfs/usr/bin/perl" ] && [ ! -d "$rootfs/usr/share/doc" ] ||
	[ -z "$(ls -A "$rootfs/usr/share/doc" 2>/dev/null)" ]; then
	ok "no apt, perl or docs in the image"
else
	bad "apt, perl or docs in the image"
fi

# reproducible: a second build gives the same manifest digest
bash "$ROOT/deploy/image/build.sh" -b "$BUILD" -o "$WORK/b" >/dev/null 2>"$WORK/build2.log"
da=$(skopeo inspect "oci:$WORK/a/oci:$tag" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Digest"])')
db=$(skopeo inspect "oci:$WORK/b/oci:$tag" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Digest"])')
if [ "$da" = "$db" ]; then
	ok "reproducible: two builds, one digest $da"
else
	bad "two builds differ: $da vs $db"
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
