#!/usr/bin/env bash
# Builds the node's images as docker-archive tars, offline and without a
# container engine, into $SLUICE_K8S_CACHE/images (default
# /var/cache/sluice-k8s/images), and prints their paths:
#   pause.tar  k8s.gcr.io/pause:3.2     the tree's build/pause/linux/pause.c,
#                                       gcc -static (containerd's sandbox)
#   curl.tar   sluice-test/curl:1       busybox-static + Debian's curl and its
#                                       libraries; runs `sleep` forever
#   http.tar   sluice-test/http:1       busybox-static; `httpd` on port 8080
#                                       serving /www: / /public /private
#                                       (200) and 404 otherwise
# Busybox's wget segfaults in Debian's busybox-static: use curl or nc.
# Idempotent: rebuilt only when this script or mkimage.py changes.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${SLUICE_K8S_CACHE:-/var/cache/sluice-k8s}
OUT=$CACHE/images
ROOT=$CACHE/root
TREE=$(ls -d "$CACHE"/src/kubernetes-*/ 2>/dev/null | head -1)
TREE=${TREE%/}

stamp=$(cat "$0" "$HERE/mkimage.py" | sha256sum | cut -c1-16)
if [ -f "$OUT/stamp" ] && [ "$(cat "$OUT/stamp")" = "$stamp" ]; then
	for i in pause curl http; do echo "$OUT/$i.tar"; done
	exit 0
fi
[ -n "$TREE" ] && [ -f "$TREE/build/pause/linux/pause.c" ] || {
	echo "images/build.sh: no kubernetes source in $CACHE/src (run apiserver.sh build)" >&2
	exit 1
}
bash "$HERE/../apiserver.sh" fetch busybox-static >&2
mkdir -p "$OUT"
work=$(mktemp -d /tmp/sluice-k8s-images-XXXXXX)
trap 'rm -rf "$work"' EXIT

# pause
mkdir -p "$work/pause"
gcc -Os -static -DVERSION=v3.2-sluice -o "$work/pause/pause" "$TREE/build/pause/linux/pause.c"
strip "$work/pause/pause"
python3 "$HERE/mkimage.py" --tag k8s.gcr.io/pause:3.2 --root "$work/pause" \
	--entrypoint '["/pause"]' --out "$OUT/pause.tar"

# a busybox root: /bin/<applet> links, /tmp, /etc/passwd
busybox_root() {
	local r=$1 a
	mkdir -p "$r/bin" "$r/tmp" "$r/etc" "$r/root" "$r/proc" "$r/sys" "$r/dev"
	chmod 1777 "$r/tmp"
	cp "$ROOT/bin/busybox" "$r/bin/busybox"
	for a in $("$r/bin/busybox" --list); do
		[ "$a" = busybox ] || ln -sf busybox "$r/bin/$a"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$r/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$r/etc/group"
}

# curl: Debian's binary with the libraries ldd names, plus CA certificates
busybox_root "$work/curl"
mkdir -p "$work/curl/usr/bin"
cp /usr/bin/curl "$work/curl/usr/bin/curl"
ldd /usr/bin/curl | awk '{for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i}' | while read -r lib; do
	mkdir -p "$work/curl$(dirname "$lib")"
	cp -L "$lib" "$work/curl$lib"
done
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
	mkdir -p "$work/curl/etc/ssl/certs"
	cp /etc/ssl/certs/ca-certificates.crt "$work/curl/etc/ssl/certs/"
fi
python3 "$HERE/mkimage.py" --tag sluice-test/curl:1 --root "$work/curl" \
	--cmd '["/bin/sleep","2147483647"]' --out "$OUT/curl.tar"

# http: busybox httpd
busybox_root "$work/http"
mkdir -p "$work/http/www"
echo "sluice-test http: /" >"$work/http/www/index.html"
echo "sluice-test http: public" >"$work/http/www/public"
echo "sluice-test http: private" >"$work/http/www/private"
python3 "$HERE/mkimage.py" --tag sluice-test/http:1 --root "$work/http" \
	--cmd '["/bin/httpd","-f","-v","-p","8080","-h","/www"]' --out "$OUT/http.tar"

echo "$stamp" >"$OUT/stamp"
for i in pause curl http; do echo "$OUT/$i.tar"; done
