#!/usr/bin/env bash
# Installs the Debian 12 packages sluice needs to build, test and run its demo.
# Idempotent: skips apt when everything is already present.
set -euo pipefail
pkgs=(
  build-essential cmake pkg-config clang llvm lld
  libbpf-dev libelf-dev zlib1g-dev bpftool linux-libc-dev
  libuv1-dev libssl-dev libyaml-dev libjansson-dev libpcre2-dev libcmocka-dev
  node-llhttp
  iproute2 iptables ipset nftables curl wrk socat netcat-openbsd python3 python3-yaml python3-jsonschema procps dnsutils
  libclang-rt-14-dev prometheus containernetworking-plugins
  openssl haproxy nginx-light
)
# shellcheck source=apt-missing.sh
source "$(dirname "${BASH_SOURCE[0]}")/apt-missing.sh"
apt_install_missing install-deps "${pkgs[@]}"
# bpffs is needed for pins.
if ! mount | grep -q ' /sys/fs/bpf type bpf'; then
  mkdir -p /sys/fs/bpf && mount -t bpf bpf /sys/fs/bpf
fi
