#!/usr/bin/env bash
# A real single-node Kubernetes cluster for tests, offline, inside a
# throwaway "node" network namespace: etcd, kube-apiserver, containerd (+runc),
# kubelet, kube-scheduler and kube-controller-manager all run there on the
# namespace's own addresses; pods get IPs from Debian's bridge + host-local
# CNI plugins (bridge with isGateway turns on forwarding: only in that netns).
# Recipe and this VM's quirks: /work/shared/reference/kubernetes-node.md.
#
#   cluster.sh up DIR         start it (state in DIR), wait for the node Ready
#   cluster.sh down DIR       stop what it started (by PID), unmount, remove
#                             cgroups, netns, routes, restore sysctls, remove
#                             kubelet/CNI leftovers that did not exist before,
#                             rm DIR; safe on a half-started cluster
#   cluster.sh env DIR        print DIR/env (K8S_* variables)
#   cluster.sh exec DIR CMD.. run CMD in the node netns with KUBECONFIG set
#                             (kubectl, helm, curl to pods, ...)
#   cluster.sh kubectl DIR .. Debian's kubectl 1.20 against the cluster
#   cluster.sh import DIR [--ctr-flag..] TAR..  import docker-archive/OCI
#                             tars into the node's containerd (namespace
#                             k8s.io); "--x=y" arguments go to ctr, e.g.
#                             --base-name=NAME for OCI archives tagged only
#   cluster.sh images DIR     list the node's images (ctr -n k8s.io images ls)
#
# Options for `up` (environment):
#   K8S_NODE_NAME     node name (default sluice-node)
#   K8S_POD_CIDR      pod subnet of the bridge (default 10.89.0.0/24)
#   K8S_NODE_IP       the node's InternalIP, on the netns' loopback
#                     (default 10.89.1.1)
#   K8S_CNI_CONF_DIR  the CNI conf dir containerd uses (default DIR/cni/net.d);
#                     cluster.sh writes 10-sluice-node.conflist (bridge) there
#   K8S_CNI_BIN_DIR   the CNI bin dir (default DIR/cni/bin, links to Debian's
#                     plugins; add chained plugins there)
#   K8S_NODE_TAINTS   kubelet --register-with-taints
#   K8S_UP_TIMEOUT    seconds to wait for the node Ready (default 180)
# containerd and the kubelet run in a mount namespace of the node's own in
# which every mount is shared, as on a systemd host (this VM's are private):
# hostPath volumes with mount propagation (a DaemonSet's /sys/fs/bpf) work,
# and the host's propagation is not changed. The env also has
# K8S_CGROUP2_ROOT: the cluster's cgroup in the v2 hierarchy, where runc
# mirrors the pods on this hybrid host (pods under its kubepods).
# Images loaded at start: k8s.gcr.io/pause:3.2, sluice-test/curl:1,
# sluice-test/http:1 (tests/k8s/images/build.sh). One cluster per machine:
# kubelet writes /var/log/pods and /var/lib/kubelet/device-plugins.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
K8S_LOG_TAG=cluster.sh
# shellcheck source=apiserver.sh
source "$HERE/apiserver.sh"

NODE_PKGS=(containerd runc containernetworking-plugins busybox-static)
LOCK=/run/sluice-k8s-cluster.lock
HOST_DIRS=(/var/log/pods /var/log/containers /var/lib/kubelet /var/lib/cni)
SYSCTLS=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
         kernel.keys.root_maxkeys kernel.keys.root_maxbytes)

nsx() { nsenter "--net=/run/netns/$NODE_NETNS" "$@"; }

# Start a daemon in the node netns, detached, and record its PID. The node's
# own daemons (containerd, kubelet) also run in the node's mount namespace
# (start_daemon_node).
start_daemon() { # NAME LOG CMD...
  local name=$1 logf=$2
  shift 2
  setsid nsenter "--net=/run/netns/$NODE_NETNS" "$@" >"$logf" 2>&1 </dev/null &
  echo "$!" >"$DIR/pids/$name"
}
start_daemon_node() { # NAME LOG CMD...
  local name=$1 logf=$2
  shift 2
  setsid nsenter "--mount=/proc/$(cat "$DIR/pids/mntns")/ns/mnt" "--net=/run/netns/$NODE_NETNS" \
    "$@" >"$logf" 2>&1 </dev/null &
  echo "$!" >"$DIR/pids/$name"
}

# The node's mount namespace: a copy of the host's in which every mount is
# shared (rshared /), as on a systemd host. Mount propagation needs it:
# containerd refuses a hostPath with HostToContainer propagation (the
# DaemonSet's /sys/fs/bpf, pod netns directories) on a private mount, and
# this VM's mounts are all private. Made in a namespace of the node's own,
# the host's propagation is left alone; the node still sees the host's
# bpffs (the same superblock: pins made by a pod land on the host's
# /sys/fs/bpf), and what containerd and the kubelet mount (netns files,
# rootfs, volumes) stays in there and goes with the namespace at `down`.
# A holder process keeps it while the daemons come and go.
start_mount_ns() {
  setsid unshare --mount --propagation shared sleep infinity </dev/null >/dev/null 2>&1 &
  echo "$!" >"$DIR/pids/mntns"
  local i
  for i in $(seq 1 50); do
    [ "$(readlink "/proc/$!/ns/mnt")" != "$(readlink /proc/self/ns/mnt)" ] &&
      [ "$(readlink "/proc/$!/exe")" = "$(readlink -f "$(command -v sleep)")" ] && return 0
    sleep 0.1
  done
  die "could not make the node's mount namespace"
}

state_set() { echo "$1=$2" >>"$DIR/state"; }

load_state() {
  NODE_NETNS='' CGROUP_NAME='' POD_CIDR='' NODE_IP='' CGROUP2=''
  # shellcheck disable=SC1091
  [ -f "$DIR/state" ] && . "$DIR/state"
  return 0
}

# --- up ------------------------------------------------------------------------

cgroup_hierarchies() {
  findmnt -rn -t cgroup -o TARGET
}

write_containerd_config() {
  local c=$DIR/containerd
  mkdir -p "$c/root" "$c/state" "$c/opt"
  cat >"$c/config.toml" <<EOF
version = 2
root = "$c/root"
state = "$c/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
                    "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs",
                    "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$c/containerd.sock"
[ttrpc]
  address = "$c/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$c/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "k8s.gcr.io/pause:3.2"
  # This VM drops CAP_SYS_RESOURCE: without it every sandbox fails
  # ("can't get final child's PID from pipe: EOF").
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  disable_apparmor = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$ROOT/usr/sbin/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CNI_BIN_DIR"
    conf_dir = "$CNI_CONF_DIR"
EOF
}

write_cni_config() {
  mkdir -p "$CNI_CONF_DIR" "$CNI_BIN_DIR" "$DIR/cni/ipam"
  local p
  for p in "$ROOT"/usr/lib/cni/*; do
    [ -e "$CNI_BIN_DIR/$(basename "$p")" ] || ln -s "$p" "$CNI_BIN_DIR/$(basename "$p")"
  done
  cat >"$CNI_CONF_DIR/10-sluice-node.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "sluice-node",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "slk8s0",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$POD_CIDR"}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": "$DIR/cni/ipam"
      }
    }
  ]
}
EOF
}

kubeconfig_for() { # OUT: admin identity, server as seen from the netns
  cp "$DIR/api/admin.kubeconfig" "$1"
}

cmd_up() {
  DIR=${1:?usage: up DIR}
  built || die "not built: run apiserver.sh build first"
  cmd_fetch "${NODE_PKGS[@]}"
  local images
  images=$(bash "$HERE/images/build.sh") || die "images/build.sh failed"
  [ ! -e "$DIR/env" ] || die "$DIR already holds a cluster"

  # One cluster per machine (kubelet's host paths are global).
  if ! mkdir "$LOCK" 2>/dev/null; then
    local other
    other=$(cat "$LOCK/dir" 2>/dev/null || true)
    if [ -n "$other" ] && [ -f "$other/state" ] && cluster_alive "$other"; then
      die "a cluster already runs in $other"
    fi
    log "taking over a stale lock (was $other)"
    rm -rf "$LOCK"
    mkdir "$LOCK"
  fi
  mkdir -p "$DIR"
  DIR=$(cd "$DIR" && pwd)
  echo "$DIR" >"$LOCK/dir"
  mkdir -p "$DIR/pids" "$DIR/log"
  : >"$DIR/state"
  UP_OK=0
  trap 'if [ "$UP_OK" = 0 ]; then log "up failed; tearing down"; do_down "$DIR" || true; fi' EXIT

  local t0=$SECONDS id
  id=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
  NODE_NETNS=slk8s-$id
  CGROUP_NAME=sluice-k8s-$id
  POD_CIDR=${K8S_POD_CIDR:-10.89.0.0/24}
  NODE_IP=${K8S_NODE_IP:-10.89.1.1}
  NODE_NAME=${K8S_NODE_NAME:-sluice-node}
  CNI_CONF_DIR=${K8S_CNI_CONF_DIR:-$DIR/cni/net.d}
  CNI_BIN_DIR=${K8S_CNI_BIN_DIR:-$DIR/cni/bin}
  state_set NODE_NETNS "$NODE_NETNS"
  state_set CGROUP_NAME "$CGROUP_NAME"
  state_set POD_CIDR "$POD_CIDR"
  state_set NODE_IP "$NODE_IP"

  # What exists before us: down removes only what we added.
  local d s
  for d in "${HOST_DIRS[@]}"; do
    if [ -d "$d" ]; then
      echo "$d" >>"$DIR/pre.dirs"
      ls -A "$d" | sed "s#^#$d/#" >>"$DIR/pre.entries"
    fi
  done
  touch "$DIR/pre.dirs" "$DIR/pre.entries"
  for s in "${SYSCTLS[@]}"; do echo "$s=$(sysctl -n "$s")" >>"$DIR/sysctl.saved"; done

  # The node netns: loopback only, also carrying the node IP (kubelet refuses
  # a 127/8 node IP; the API server reaches the kubelet there).
  ip netns add "$NODE_NETNS"
  nsx ip link set lo up
  nsx ip addr add "$NODE_IP/32" dev lo
  # Nothing of the node's addresses is ever routed out of the host.
  ip route add blackhole "$POD_CIDR" && state_set ROUTE_POD 1
  ip route add blackhole "$NODE_IP/32" && state_set ROUTE_NODE 1

  # Our own cgroup root in every v1 hierarchy (kubelet uses cgroupfs).
  local h
  for h in $(cgroup_hierarchies); do
    mkdir -p "$h/$CGROUP_NAME"
    if [ -f "$h/cpuset.cpus" ]; then
      cat "$h/cpuset.cpus" >"$h/$CGROUP_NAME/cpuset.cpus"
      cat "$h/cpuset.mems" >"$h/$CGROUP_NAME/cpuset.mems"
    fi
  done
  # On a hybrid host runc also puts every container into the same path of
  # the cgroup v2 hierarchy (the kubelet itself only manages v1): make the
  # pods' v2 cgroup up front, so that cgroup programs (sluiced's
  # --pods-cgroup: egress L7 steering) can attach before the first pod.
  CGROUP2=$(findmnt -rn -t cgroup2 -o TARGET | head -1)
  if [ -n "$CGROUP2" ]; then
    mkdir -p "$CGROUP2/$CGROUP_NAME/kubepods"
    state_set CGROUP2 "$CGROUP2"
  fi

  write_cni_config
  write_containerd_config
  start_mount_ns
  local sock=$DIR/containerd/containerd.sock
  PATH=$ROOT/usr/bin:$ROOT/usr/sbin:$PATH start_daemon_node containerd "$DIR/log/containerd.log" \
    "$ROOT/usr/bin/containerd" --config "$DIR/containerd/config.toml"

  # The API server (in the netns) while containerd starts.
  K8S_NETNS=$NODE_NETNS K8S_AUTHZ=Node,RBAC K8S_ADMISSION_DISABLE= \
    bash "$HERE/apiserver.sh" up "$DIR/api" >"$DIR/log/apiserver-up.log" 2>&1 &
  local api_up=$!

  local i
  for i in $(seq 1 150); do
    [ -S "$sock" ] && nsx "$ROOT/usr/bin/ctr" -a "$sock" version >/dev/null 2>&1 && break
    [ -d "/proc/$(cat "$DIR/pids/containerd")" ] || die "containerd exited: $(tail -5 "$DIR/log/containerd.log")"
    sleep 0.2
  done
  [ -S "$sock" ] || die "containerd did not start: $(tail -5 "$DIR/log/containerd.log")"
  local img
  for img in $images; do
    nsx "$ROOT/usr/bin/ctr" -a "$sock" -n k8s.io images import "$img" >/dev/null ||
      die "ctr images import $img failed"
  done
  wait $api_up || die "apiserver up failed: $(tail -5 "$DIR/log/apiserver-up.log")"
  # shellcheck disable=SC1091
  . "$DIR/api/env"
  local kcfg=$DIR/admin.kubeconfig
  kubeconfig_for "$kcfg"

  # kubelet: remote runtime, cgroupfs, everything on the node IP/loopback.
  mkdir -p "$DIR/kubelet" "$DIR/manifests" "$DIR/flex"
  local taints=()
  [ -z "${K8S_NODE_TAINTS:-}" ] || taints=(--register-with-taints="$K8S_NODE_TAINTS")
  start_daemon_node kubelet "$DIR/log/kubelet.log" "$BIN/kubelet" \
    --kubeconfig="$kcfg" \
    --hostname-override="$NODE_NAME" --node-ip="$NODE_IP" \
    --address="$NODE_IP" --healthz-bind-address=127.0.0.1 --read-only-port=0 \
    --root-dir="$DIR/kubelet" --cert-dir="$DIR/kubelet/pki" \
    --pod-manifest-path="$DIR/manifests" --volume-plugin-dir="$DIR/flex" \
    --container-runtime=remote --container-runtime-endpoint="unix://$sock" \
    --image-service-endpoint="unix://$sock" \
    --cgroup-driver=cgroupfs --cgroup-root="/$CGROUP_NAME" \
    --fail-swap-on=false --make-iptables-util-chains=false \
    --eviction-hard='memory.available<1Mi,nodefs.available<1%,imagefs.available<1%' \
    --image-gc-high-threshold=100 --image-gc-low-threshold=99 \
    --anonymous-auth=true --authorization-mode=AlwaysAllow \
    --node-status-update-frequency=4s --sync-frequency=10s \
    --v=1 "${taints[@]}"
  start_daemon kube-scheduler "$DIR/log/kube-scheduler.log" "$BIN/kube-scheduler" \
    --kubeconfig="$kcfg" --authentication-kubeconfig="$kcfg" --authorization-kubeconfig="$kcfg" \
    --leader-elect=false --bind-address=127.0.0.1 --port=0
  start_daemon kube-controller-manager "$DIR/log/kube-controller-manager.log" "$BIN/kube-controller-manager" \
    --kubeconfig="$kcfg" --authentication-kubeconfig="$kcfg" --authorization-kubeconfig="$kcfg" \
    --leader-elect=false --bind-address=127.0.0.1 --port=0 \
    --controllers='*,-nodeipam' --flex-volume-plugin-dir="$DIR/flex" \
    --service-account-private-key-file="$DIR/api/pki/sa.key" \
    --root-ca-file="$DIR/api/pki/ca.crt" --use-service-account-credentials=false \
    --node-monitor-grace-period=20s --pod-eviction-timeout=30s

  write_env
  local deadline=$((SECONDS + ${K8S_UP_TIMEOUT:-180})) ready=''
  while [ $SECONDS -lt $deadline ]; do
    local n
    for n in kubelet kube-scheduler kube-controller-manager containerd; do
      [ -d "/proc/$(cat "$DIR/pids/$n")" ] || die "$n exited: $(tail -5 "$DIR/log/$n.log")"
    done
    ready=$(nsx "$KUBECTL" --kubeconfig "$kcfg" get node "$NODE_NAME" \
      -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null || true)
    [ "$ready" = True ] && break
    sleep 1
  done
  [ "$ready" = True ] || die "node not Ready after ${K8S_UP_TIMEOUT:-180} s: $(tail -5 "$DIR/log/kubelet.log")"
  # The "default" ServiceAccount (controller-manager) must exist before pods.
  for i in $(seq 1 100); do
    nsx "$KUBECTL" --kubeconfig "$kcfg" -n default get serviceaccount default >/dev/null 2>&1 && break
    sleep 0.3
  done
  UP_OK=1
  trap - EXIT
  log "up: node $NODE_NAME Ready in $((SECONDS - t0)) s (netns $NODE_NETNS, dir $DIR)"
}

write_env() {
  {
    cat "$DIR/api/env"
    cat <<EOF
K8S_CLUSTER_DIR=$DIR
K8S_KUBECONFIG=$DIR/admin.kubeconfig
K8S_NODE_NETNS=$NODE_NETNS
K8S_NODE_NAME=$NODE_NAME
K8S_NODE_IP=$NODE_IP
K8S_POD_CIDR=$POD_CIDR
K8S_CNI_CONF_DIR=$CNI_CONF_DIR
K8S_CNI_BIN_DIR=$CNI_BIN_DIR
K8S_CONTAINERD_SOCK=$DIR/containerd/containerd.sock
K8S_CTR=$ROOT/usr/bin/ctr
K8S_CGROUP_ROOT=/$CGROUP_NAME
K8S_CGROUP2_ROOT=${CGROUP2:+$CGROUP2/$CGROUP_NAME}
K8S_KUBELET_ROOT=$DIR/kubelet
K8S_MANIFESTS=$DIR/manifests
K8S_KUBELET_PID=$(cat "$DIR/pids/kubelet")
K8S_CONTAINERD_PID=$(cat "$DIR/pids/containerd")
EOF
  } | sed "s#^K8S_DIR=.*#K8S_DIR=$DIR/api#" >"$DIR/env"
}

cluster_alive() {
  local p
  p=$(cat "$1/pids/kubelet" 2>/dev/null || cat "$1/pids/containerd" 2>/dev/null || true)
  [ -n "$p" ] && [ -d "/proc/$p" ]
}

# --- down ----------------------------------------------------------------------

cgroup_pids() { # every PID in our cgroup tree (any hierarchy)
  local h
  for h in $(cgroup_hierarchies) $(findmnt -rn -t cgroup2 -o TARGET); do
    [ -d "$h/$CGROUP_NAME" ] || continue
    find "$h/$CGROUP_NAME" -name cgroup.procs -exec cat {} + 2>/dev/null
  done | sort -u
}

do_down() {
  DIR=$1
  load_state
  local n
  # Control plane first, then the kubelet: nothing restarts pods meanwhile.
  # SIGKILL: their state dies with DIR anyway, and a graceful stop is slow.
  for n in kube-controller-manager kube-scheduler kubelet; do
    [ -f "$DIR/pids/$n" ] && kill_recorded "$(cat "$DIR/pids/$n")" "$BIN/$n" KILL
  done
  # Pods' processes: everything in our cgroup tree.
  if [ -n "$CGROUP_NAME" ]; then
    local i p
    for i in $(seq 1 50); do
      p=$(cgroup_pids)
      [ -z "$p" ] && break
      # shellcheck disable=SC2086
      kill -KILL $p 2>/dev/null || true
      sleep 0.1
    done
  fi
  # The runc shims of our containerd (they named our socket on their command
  # line), then containerd.
  local sock=$DIR/containerd/containerd.sock pid
  if [ -n "${DIR:-}" ] && [ -d "$DIR/containerd" ]; then
    for pid in $(grep -lsF -- "$sock" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3); do
      [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$ROOT/usr/bin/containerd-shim-runc-v2" ] &&
        kill -KILL "$pid" 2>/dev/null || true
    done
  fi
  [ -f "$DIR/pids/containerd" ] && kill_recorded "$(cat "$DIR/pids/containerd")" "$ROOT/usr/bin/containerd"
  # The node's mount namespace goes with its last process: its mounts
  # (netns files, overlays, volumes) are released with it.
  [ -f "$DIR/pids/mntns" ] && kill_recorded "$(cat "$DIR/pids/mntns")" "$(command -v sleep)" KILL
  [ -f "$DIR/api/env" ] && bash "$HERE/apiserver.sh" down "$DIR/api"

  # Mounts under DIR (volumes, netns files, overlay rootfs), deepest first.
  local m
  for i in 1 2 3; do
    m=$(findmnt -rn -o TARGET | grep -F "$DIR/" | sort -r || true)
    [ -z "$m" ] && break
    for p in $m; do umount "$p" 2>/dev/null || umount -l "$p" 2>/dev/null || true; done
  done
  if [ -n "$CGROUP_NAME" ]; then
    # (runc also mirrors the tree into the v2 hierarchy of this hybrid host.)
    local h
    for h in $(cgroup_hierarchies) $(findmnt -rn -t cgroup2 -o TARGET); do
      [ -d "$h/$CGROUP_NAME" ] && find "$h/$CGROUP_NAME" -depth -type d -exec rmdir {} \; 2>/dev/null || true
    done
  fi
  if [ -n "$NODE_NETNS" ] && [ -e "/run/netns/$NODE_NETNS" ]; then
    ip netns del "$NODE_NETNS" || true
  fi
  [ "${ROUTE_POD:-}" = 1 ] && ip route del blackhole "$POD_CIDR" 2>/dev/null || true
  [ "${ROUTE_NODE:-}" = 1 ] && ip route del blackhole "$NODE_IP/32" 2>/dev/null || true
  if [ -f "$DIR/sysctl.saved" ]; then
    local kv
    while IFS= read -r kv; do sysctl -q -w "$kv" >/dev/null || log "could not restore $kv"; done <"$DIR/sysctl.saved"
  fi
  # kubelet/CNI host paths: remove what we added.
  if [ -f "$DIR/pre.dirs" ]; then
    local d e
    for d in "${HOST_DIRS[@]}"; do
      [ -d "$d" ] || continue
      if ! grep -qxF "$d" "$DIR/pre.dirs"; then
        rm -rf "$d"
      else
        for e in "$d"/* "$d"/.[!.]*; do
          [ -e "$e" ] || [ -L "$e" ] || continue
          grep -qxF "$e" "$DIR/pre.entries" || rm -rf "$e"
        done
      fi
    done
  fi
  rm -rf "$DIR"
  if [ "$(cat "$LOCK/dir" 2>/dev/null)" = "$DIR" ]; then rm -rf "$LOCK"; fi
}

cmd_down() {
  local dir=${1:?usage: down DIR}
  [ -d "$dir" ] || return 0
  dir=$(cd "$dir" && pwd)
  if [ ! -f "$dir/state" ]; then
    # `up` failed before writing anything (e.g. k8s_cluster_up's mktemp dir).
    if [ -z "$(ls -A "$dir")" ]; then rmdir "$dir"; return 0; fi
    die "$dir is not a cluster directory (no state file)"
  fi
  # Best effort all the way (errexit is off inside an || list): one step
  # failing must not leave the rest behind.
  do_down "$dir" || true
}

cmd_exec() {
  DIR=${1:?usage: exec DIR CMD...}
  shift
  load_state
  [ -n "$NODE_NETNS" ] || die "no cluster in $DIR"
  KUBECONFIG=$DIR/admin.kubeconfig nsx "$@"
}

# import DIR [--ctr-flag...] TAR...: arguments starting with "--" go to
# `ctr images import` for every tar, e.g. --base-name docker.io/sluice/sluice
# for an OCI archive whose index names only a tag.
cmd_import() {
  DIR=${1:?usage: import DIR [--ctr-flag...] TAR...}
  shift
  load_state
  local t flags=() tars=()
  for t in "$@"; do
    case $t in --*) flags+=("$t") ;; *) tars+=("$t") ;; esac
  done
  [ ${#tars[@]} -gt 0 ] || die "import: no image file given"
  for t in "${tars[@]}"; do
    [ -f "$t" ] || die "import: $t: no such file"
    nsx "$ROOT/usr/bin/ctr" -a "$DIR/containerd/containerd.sock" -n k8s.io images import "${flags[@]}" "$t" >&2 ||
      die "ctr images import $t failed"
  done
}

case ${1:-} in
  up) cmd_up "${2:-}" ;;
  down) cmd_down "${2:-}" ;;
  env) [ -f "${2:-}/env" ] || die "no cluster in ${2:-}"; cat "$2/env" ;;
  exec) shift; cmd_exec "$@" ;;
  kubectl) d=${2:?usage: kubectl DIR ARGS}; shift 2; cmd_exec "$d" "$KUBECTL" --kubeconfig "$d/admin.kubeconfig" "$@" ;;
  import) shift; cmd_import "$@" ;;
  images) DIR=${2:?usage: images DIR}; load_state; nsx "$ROOT/usr/bin/ctr" -a "$DIR/containerd/containerd.sock" -n k8s.io images ls -q ;;
  *) echo "usage: $0 up DIR|down DIR|env DIR|exec DIR CMD...|kubectl DIR ARGS...|import DIR TAR..." >&2; exit 2 ;;
esac
