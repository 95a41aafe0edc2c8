#!/usr/bin/env bash
# Installs the Debian 12 host tools the Kubernetes tests need (tests/k8s/):
# apt-get source/dpkg-source and make for building kube-apiserver & co from
# Debian's kubernetes source package, openssl for test certificates, gcc and
# the static libc for the pause image, nsenter/findmnt, iproute2, curl.
# The Kubernetes parts themselves (Go, etcd, kubectl 1.20, containerd, runc,
# CNI plugins, busybox) are downloaded with `apt-get download` and unpacked
# into /var/cache/sluice-k8s by tests/k8s/apiserver.sh: nothing is installed
# system-wide for them. Idempotent: skips apt when everything is present.
set -euo pipefail
pkgs=(
  dpkg-dev make openssl ca-certificates curl python3 gcc libc6-dev
  util-linux iproute2 procps debian-archive-keyring xz-utils
)
# shellcheck source=apt-missing.sh
source "$(dirname "${BASH_SOURCE[0]}")/apt-missing.sh"
apt_install_missing install-k8s-deps "${pkgs[@]}"
