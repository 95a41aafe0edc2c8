#!/usr/bin/env bash
# deploy/image/build.sh - the sluice OCI image, from Debian packages and the
# built binaries, with no container engine:
#
#   1. a minimal Debian root with mmdebstrap (variant essential: the Essential
#      packages, no apt) plus exactly the runtime libraries the binaries link
#      (found with ldd + dpkg -S), iproute2 (sluiced runs `ip`) and mount (the
#      bpffs init container). Cached by package list in $SLUICE_IMAGE_CACHE
#      (default /var/cache/sluice-image);
#   2. the binaries (sluiced, sluice, sluice-proxy, sluice-cni) into /usr/bin,
#      stripped (the BPF objects are embedded in sluiced);
#   3. umoci: an OCI layout with two layers (Debian, sluice), entrypoint
#      sluiced, org.opencontainers.image.* labels (version, revision, created);
#   4. skopeo: the OCI layout exported as a docker-archive, the format
#      `ctr images import` and `docker load` take.
#
# Reproducible: every timestamp is SOURCE_DATE_EPOCH (default: the last
# commit's time), tar members sorted with numeric owners, no history entries
# with times; the Debian package versions used are listed in the image
# (/usr/share/sluice/packages.txt) and in the label io.sluice.image.debian.
#
# Usage: deploy/image/build.sh [-b BUILD_DIR] [-o OUT_DIR] [-t TAG]
#   BUILD_DIR  a cmake build of this checkout (default ./build)
#   OUT_DIR    where to write oci/ and sluice-image.tar (default BUILD_DIR/image)
#   TAG        image tag (default: the project version)
# Prints the image reference and the archive path at the end.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$SRC/build
OUT=
TAG=
REPO=${SLUICE_IMAGE_REPO:-localhost/sluice}
CACHE=${SLUICE_IMAGE_CACHE:-/var/cache/sluice-image}
MIRROR=${SLUICE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
while getopts "b:o:t:h" opt; do
	case $opt in
	b) BUILD=$(cd "$OPTARG" && pwd) ;;
	o) OUT=$OPTARG ;;
	t) TAG=$OPTARG ;;
	h) sed -n '2,28p' "$0"; exit 0 ;;
	*) exit 2 ;;
	esac
done
OUT=${OUT:-$BUILD/image}
log() { echo "build.sh: $*" >&2; }
die() { echo "build.sh: error: $*" >&2; exit 1; }

# tools (Debian packages)
missing=()
for t in mmdebstrap:mmdebstrap umoci:umoci skopeo:skopeo; do
	command -v "${t%%:*}" >/dev/null || missing+=("${t##*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
	log "apt-get install ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
fi

# what goes in
BINS=(agent/sluiced cli/sluice proxy/sluice-proxy)
# sluice-cni once the checkout has it (cni/)
[ -d "$SRC/cni" ] && BINS+=(cni/sluice-cni)
for b in "${BINS[@]}"; do
	[ -x "$BUILD/$b" ] || die "$BUILD/$b is missing: build first (cmake --build $BUILD)"
done
VERSION=$(sed -n 's/^project(sluice VERSION \([0-9.]*\).*/\1/p' "$SRC/CMakeLists.txt")
[ -n "$VERSION" ] || die "no project version in CMakeLists.txt"
TAG=${TAG:-$VERSION}
REVISION=$(git -C "$SRC" rev-parse HEAD 2>/dev/null || echo unknown)
if [ "$REVISION" != unknown ] && [ -n "$(git -C "$SRC" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
	REVISION=$REVISION-dirty
fi
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$SRC" log -1 --format=%ct 2>/dev/null || echo 0)}
CREATED=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)

# runtime packages: the libraries the binaries link, plus iproute2 and mount
mapfile -t libs < <(for b in "${BINS[@]}"; do ldd "$BUILD/$b"; done |
	awk '$2 == "=>" && $3 ~ /^\// {print $3}' | sort -u)
pkgs=(iproute2 mount)
for l in "${libs[@]}"; do
	p=$(dpkg -S "$(readlink -f "$l")" 2>/dev/null | head -1 | cut -d: -f1) ||
		p=$(dpkg -S "$l" 2>/dev/null | head -1 | cut -d: -f1) || true
	[ -n "$p" ] || die "no Debian package ships $l (needed by the binaries)"
	pkgs+=("$p")
done
mapfile -t pkgs < <(printf '%s\n' "${pkgs[@]}" | sort -u)
log "packages: ${pkgs[*]}"

mkdir -p "$CACHE"
key=$(printf '%s\n' "$SUITE" "$MIRROR" "${pkgs[@]}" | sha256sum | cut -c1-16)
base=$CACHE/base-$key.tar
if [ ! -s "$base" ]; then
	log "mmdebstrap $SUITE (variant essential) into $base"
	(
		flock 9
		if [ ! -s "$base" ]; then
			# merged /usr by mmdebstrap's hook, not by the usrmerge package
			# (which would pull perl into the image)
			mmdebstrap --variant=essential --mode=root --quiet \
				--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
				--aptopt='APT::Install-Recommends "false"' \
				--include="$(IFS=,; echo "${pkgs[*]}")" \
				--dpkgopt='path-exclude=/usr/share/doc/*' \
				--dpkgopt='path-exclude=/usr/share/man/*' \
				--dpkgopt='path-exclude=/usr/share/info/*' \
				--dpkgopt='path-exclude=/usr/share/locale/*' \
				--dpkgopt='path-exclude=/usr/share/lintian/*' \
				--dpkgopt='path-exclude=/usr/lib/x86_64-linux-gnu/gconv/*' \
				--customize-hook='chroot "$1" dpkg-query -W -f "\${Package} \${Version}\n" > "$1/.packages"' \
				--customize-hook='rm -rf "$1"/var/cache/* "$1"/var/lib/apt/lists/* "$1"/var/log/* "$1"/etc/machine-id "$1"/etc/hostname "$1"/etc/resolv.conf' \
				"$SUITE" "$base.part.tar" "$MIRROR" >&2
			mv "$base.part.tar" "$base"
		fi
	) 9>"$CACHE/.lock"
else
	log "cached Debian root $base"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sluice-image.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# a tar layer with every timestamp at SOURCE_DATE_EPOCH, sorted, numeric owners
make_layer() { # DIR OUT.tar
	find "$1" -newermt "@$SOURCE_DATE_EPOCH" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
	tar -C "$1" --sort=name --numeric-owner --owner=0 --group=0 --mtime="@$SOURCE_DATE_EPOCH" \
		--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
		--xattrs --xattrs-include='security.capability' -cf "$2" .
}

# layer 1: Debian
mkdir "$WORK/base"
tar -C "$WORK/base" -xpf "$base"
mkdir -p "$WORK/base/usr/share/sluice"
mv "$WORK/base/.packages" "$WORK/base/usr/share/sluice/packages.txt"
rm -rf "$WORK/base/dev"/* "$WORK/base/proc"/* "$WORK/base/sys"/* "$WORK/base/run"/* "$WORK/base/tmp"/*
make_layer "$WORK/base" "$WORK/base.tar"

# layer 2: sluice
mkdir -p "$WORK/sluice/usr/bin" "$WORK/sluice/run/sluice" "$WORK/sluice/etc/sluice"
for b in "${BINS[@]}"; do
	install -m 0755 "$BUILD/$b" "$WORK/sluice/usr/bin/"
	strip --strip-unneeded "$WORK/sluice/usr/bin/$(basename "$b")"
done
cat >"$WORK/sluice/etc/sluice/image-info" <<EOF
version=$VERSION
revision=$REVISION
created=$CREATED
EOF
make_layer "$WORK/sluice" "$WORK/sluice.tar"

debian=$(awk '$1 ~ /^(libbpf1|libuv1|libc6|iproute2)$/ {printf "%s%s=%s", sep, $1, $2; sep=","}' \
	"$WORK/base/usr/share/sluice/packages.txt")

# the OCI layout
rm -rf "$OUT/oci"
mkdir -p "$OUT"
umoci init --layout "$OUT/oci"
umoci new --image "$OUT/oci:$TAG"
umoci raw add-layer --image "$OUT/oci:$TAG" --history.created "$CREATED" \
	--history.created_by "deploy/image/build.sh: Debian $SUITE (mmdebstrap essential + ${pkgs[*]})" \
	"$WORK/base.tar"
umoci raw add-layer --image "$OUT/oci:$TAG" --history.created "$CREATED" \
	--history.created_by "deploy/image/build.sh: sluice $VERSION ($REVISION)" "$WORK/sluice.tar"
umoci config --no-history --image "$OUT/oci:$TAG" \
	--created "$CREATED" --author "sluice developers" --os linux --architecture amd64 \
	--config.entrypoint /usr/bin/sluiced \
	--config.env PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	--config.workingdir / \
	--config.label "org.opencontainers.image.title=sluice" \
	--config.label "org.opencontainers.image.description=sluice node agent: eBPF network policy, L7 proxy, CNI plugin" \
	--config.label "org.opencontainers.image.version=$VERSION" \
	--config.label "org.opencontainers.image.revision=$REVISION" \
	--config.label "org.opencontainers.image.created=$CREATED" \
	--config.label "org.opencontainers.image.licenses=Apache-2.0" \
	--config.label "org.opencontainers.image.base.name=debian:$SUITE" \
	--config.label "io.sluice.image.debian=$debian" \
	--manifest.annotation "org.opencontainers.image.version=$VERSION" \
	--manifest.annotation "org.opencontainers.image.revision=$REVISION" \
	--manifest.annotation "org.opencontainers.image.created=$CREATED"
umoci gc --layout "$OUT/oci"

rm -f "$OUT/sluice-image.tar"
skopeo copy --quiet "oci:$OUT/oci:$TAG" "docker-archive:$OUT/sluice-image.tar:$REPO:$TAG"
touch -d "@$SOURCE_DATE_EPOCH" "$OUT/sluice-image.tar"
log "image $REPO:$TAG (revision $REVISION) in $OUT/oci and $OUT/sluice-image.tar"
echo "$REPO:$TAG $OUT/sluice-image.tar"
