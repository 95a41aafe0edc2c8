#!/usr/bin/env bash
# Installs the Debian 12 packages sluice needs to build, test and run its demo.
# Idempotent: skips apt when everything is already present.
set -euo pipefail
pkgs=(
  build-essential cmake pkg-config clang llvm lld
  libbpf-dev libelf-dev zlib1g-dev bpftool linux-libc-dev
  libuv1-dev libssl-dev libyaml-dev libjansson-dev libpcre2-dev libcmocka-dev
  node-llhttp
  iproute2 iptables ipset nftables curl wrk socat netcat-openbsd python3 procps
  libclang-rt-14-dev prometheus containernetworking-plugins
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# bpffs is needed for pins.
if ! mount | grep -q ' /sys/fs/bpf type bpf'; then
  mkdir -p /sys/fs/bpf && mount -t bpf bpf /sys/fs/bpf
fi
