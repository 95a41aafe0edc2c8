#!/usr/bin/env bash
# A real kube-apiserver (with etcd) for tests, built offline from Debian's
# "kubernetes" source package (1.20.2) and cached outside the checkout.
#
#   apiserver.sh build [apiserver]
#                            build (or reuse) kube-apiserver, kubelet,
#                            kube-scheduler, kube-controller-manager and unpack
#                            etcd, kubectl 1.20 and Go into the cache;
#                            idempotent: a second run returns in seconds;
#                            "apiserver": only what `up` needs
#   apiserver.sh up DIR      start etcd + kube-apiserver on 127.0.0.1 (free
#                            ports), state in DIR; writes DIR/env and
#                            DIR/admin.kubeconfig, waits for /readyz
#   apiserver.sh down DIR    kill exactly the PIDs recorded in DIR/env, rm DIR
#   apiserver.sh env DIR     print DIR/env (shell syntax, for `eval`)
#   apiserver.sh paths       print the cache paths (shell syntax)
#   apiserver.sh fetch PKG.. download and unpack Debian packages into the
#                            cache's root (no install)
#
# Cache: $SLUICE_K8S_CACHE (default /var/cache/sluice-k8s). Nothing under the
# checkout is written. Why the recipe looks like this (pitfalls verified on
# this machine): /work/shared/reference/kubernetes.md, "Real kube-apiserver
# offline".
set -euo pipefail

CACHE=${SLUICE_K8S_CACHE:-/var/cache/sluice-k8s}
MIRROR=${SLUICE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SEC_MIRROR=${SLUICE_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
K8S_VERSION=v1.20.2
# Bump when the recipe changes so that old caches are rebuilt.
RECIPE=3
ROOT=$CACHE/root            # unpacked .debs (go, etcd, kubectl, ...)
BIN=$CACHE/bin              # the built kube-* binaries
GOROOT_DIR=$ROOT/usr/lib/go-1.19
KUBECTL=$ROOT/usr/bin/kubectl
ETCD=$ROOT/usr/bin/etcd
KUBE_CMDS=(kube-apiserver kubelet kube-scheduler kube-controller-manager)
DEBS=(golang-1.19-go golang-1.19-src etcd-server etcd-client kubernetes-client
      golang-github-modern-go-reflect2-dev golang-github-json-iterator-go-dev)

K8S_LOG_TAG=${K8S_LOG_TAG:-apiserver.sh}
log() { echo "$K8S_LOG_TAG: $*" >&2; }
die() { echo "$K8S_LOG_TAG: error: $*" >&2; exit 1; }

# apt with a private configuration: deb-src entries without touching
# /etc/apt, and package lists kept in the cache.
apt_priv() {
  local a=$CACHE/apt
  apt-get -o Dir::Etc::SourceList="$a/sources.list" \
          -o Dir::Etc::SourceParts="$a/parts" \
          -o Dir::State::Lists="$a/lists" \
          -o Dir::Cache="$a/cache" \
          -o APT::Sandbox::User=root -o Debug::NoLocking=1 "$@"
}

apt_setup() {
  local a=$CACHE/apt kr=/usr/share/keyrings/debian-archive-keyring.gpg
  mkdir -p "$a/parts" "$a/lists/partial" "$a/cache/archives/partial"
  cat > "$a/sources.list" <<EOF
deb [signed-by=$kr] $MIRROR bookworm main
deb [signed-by=$kr] $MIRROR bookworm-updates main
deb [signed-by=$kr] $SEC_MIRROR bookworm-security main
deb-src [signed-by=$kr] $MIRROR bookworm main
deb-src [signed-by=$kr] $MIRROR bookworm-updates main
deb-src [signed-by=$kr] $SEC_MIRROR bookworm-security main
EOF
  if [ ! -e "$a/updated" ]; then
    log "apt-get update (private lists in $a)"
    apt_priv update -qq >&2
    touch "$a/updated"
  fi
}

# Download and unpack (dpkg-deb -x, no install) the Debian binaries we need
# (default: the build's; `apiserver.sh fetch PKG...` for others, e.g. the
# node's containerd, runc and CNI plugins).
fetch_debs() {
  mkdir -p "$CACHE/debs" "$ROOT"
  local pkgs=("$@")
  [ ${#pkgs[@]} -gt 0 ] || pkgs=("${DEBS[@]}")
  local p missing=()
  for p in "${pkgs[@]}"; do
    ls "$CACHE/debs/${p}_"*.deb >/dev/null 2>&1 || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "downloading ${missing[*]}"
    (cd "$CACHE/debs" && apt_priv download "${missing[@]}" >&2)
  fi
  for p in "${pkgs[@]}"; do
    local d
    d=$(ls "$CACHE/debs/${p}_"*.deb | head -1)
    if [ ! -e "$ROOT/.unpacked.$(basename "$d")" ]; then
      dpkg-deb -x "$d" "$ROOT"
      touch "$ROOT/.unpacked.$(basename "$d")"
    fi
  done
  [ $# -gt 0 ] && return 0
  [ -x "$GOROOT_DIR/bin/go" ] || die "go not found in $GOROOT_DIR"
  [ -x "$ETCD" ] || die "etcd not found at $ETCD"
  [ -x "$KUBECTL" ] || die "kubectl not found at $KUBECTL"
}

cmd_fetch() {
  [ $# -gt 0 ] || die "usage: fetch PKG..."
  mkdir -p "$CACHE"
  local p ok=1
  for p in "$@"; do [ -e "$CACHE/debs/.unpacked.$p" ] || ok=0; done
  [ $ok = 1 ] && return 0
  exec 8>"$CACHE/.fetch.lock"
  flock 8
  bash "$(dirname "${BASH_SOURCE[0]}")/../../scripts/install-k8s-deps.sh"
  apt_setup
  fetch_debs "$@"
  for p in "$@"; do touch "$CACHE/debs/.unpacked.$p"; done
}

# The source tree, prepared once: Debian patches applied, the openapi file
# generated, reflect2/json-iterator replaced (the vendored versions panic under
# Go >= 1.18 on the first JSON decode).
prepare_source() {
  local src=$CACHE/src tree
  mkdir -p "$src"
  if ! ls "$src"/kubernetes_*.dsc >/dev/null 2>&1; then
    log "apt-get source --download-only kubernetes"
    (cd "$src" && apt_priv source --download-only kubernetes >&2)
  fi
  tree=$(ls -d "$src"/kubernetes-*/ 2>/dev/null | head -1 || true)
  if [ -z "$tree" ]; then
    log "unpacking the source package"
    (cd "$src" && dpkg-source --no-check -x kubernetes_*.dsc >&2)
    tree=$(ls -d "$src"/kubernetes-*/ | head -1)
  fi
  TREE=${tree%/}
  # GOPATH layout: $CACHE/gopath/src/k8s.io/kubernetes -> the tree.
  mkdir -p "$CACHE/gopath/src/k8s.io"
  ln -sfn "$TREE" "$CACHE/gopath/src/k8s.io/kubernetes"

  if [ ! -e "$TREE/.sluice-vendor-fixed" ]; then
    log "replacing vendored reflect2 and json-iterator with Debian's"
    local gc=$ROOT/usr/share/gocode/src
    [ -d "$gc/github.com/modern-go/reflect2" ] || die "Debian reflect2 sources missing"
    [ -d "$gc/github.com/json-iterator/go" ] || die "Debian json-iterator sources missing"
    rm -rf "$TREE/vendor/github.com/modern-go/reflect2" "$TREE/vendor/github.com/json-iterator/go"
    cp -rL "$gc/github.com/modern-go/reflect2" "$TREE/vendor/github.com/modern-go/reflect2"
    cp -rL "$gc/github.com/json-iterator/go" "$TREE/vendor/github.com/json-iterator/go"
    touch "$TREE/.sluice-vendor-fixed"
  fi

  if [ ! -s "$TREE/pkg/generated/openapi/zz_generated.openapi.go" ]; then
    log "make gen_openapi"
    # The hack scripts copy openapi-gen with rsync, which Debian's minimal
    # systems lack: build it first, then put it where `make` looks for it.
    (cd "$TREE" && go_env && nice -n 10 make gen_openapi >&2) || {
      mkdir -p "$TREE/_output/bin"
      local g
      g=$(find "$TREE/_output" -type f -name openapi-gen -perm -u+x | head -1)
      [ -n "$g" ] || die "make gen_openapi failed before building openapi-gen"
      # (The hack scripts leave a non-executable copy there without rsync.)
      rm -f "$TREE/_output/bin/openapi-gen"
      install -m 0755 "$g" "$TREE/_output/bin/openapi-gen"
      (cd "$TREE" && go_env && nice -n 10 make gen_openapi >&2)
    }
    [ -s "$TREE/pkg/generated/openapi/zz_generated.openapi.go" ] || die "gen_openapi produced nothing"
  fi
}

go_env() {
  export GOROOT=$GOROOT_DIR
  export PATH=$GOROOT_DIR/bin:$PATH
  export GOPATH=$CACHE/gopath
  export GOCACHE=$CACHE/gocache
  export GO111MODULE=off CGO_ENABLED=0 GOPROXY=off GOFLAGS= GOTOOLCHAIN=local
}

stamp_text() {
  echo "recipe=$RECIPE version=$K8S_VERSION cmds=$*"
}

# built [CMD...]: the named commands (default: all) are built by this recipe.
built() {
  local cmds=("$@") c
  [ ${#cmds[@]} -gt 0 ] || cmds=("${KUBE_CMDS[@]}")
  for c in "${cmds[@]}"; do
    [ -x "$BIN/$c" ] && [ -f "$BIN/.stamp.$c" ] && [ "$(cat "$BIN/.stamp.$c")" = "$(stamp_text "$c")" ] || return 1
  done
  [ -x "$ETCD" ] && [ -x "$KUBECTL" ]
}

go_build() { # CMD...: one `go build` of these commands into $BIN
  local vpkg=k8s.io/kubernetes/vendor/k8s.io p
  local ld="-s -w"
  for p in "$vpkg/component-base/version" "$vpkg/client-go/pkg/version"; do
    ld+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=20"
    ld+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  local pkgs=()
  for p in "$@"; do pkgs+=("k8s.io/kubernetes/cmd/$p"); done
  log "go build $* (GOPATH mode, nice 10)"
  rm -rf "$BIN.new"
  mkdir -p "$BIN.new" "$BIN"
  (cd "$CACHE/gopath/src/k8s.io/kubernetes" &&
     nice -n 10 go build -trimpath -ldflags "$ld" -o "$BIN.new/" "${pkgs[@]}") >&2
  for p in "$@"; do
    [ -x "$BIN.new/$p" ] || die "go build did not produce $p"
    mv -f "$BIN.new/$p" "$BIN/$p"
    stamp_text "$p" >"$BIN/.stamp.$p"
  done
  rm -rf "$BIN.new"
}

# build [apiserver]: everything, or only what a bare API server needs. The
# kube-apiserver goes first (one go invocation), then kubelet, scheduler and
# controller-manager (a second one) reuse its GOCACHE.
cmd_build() {
  local want=("${KUBE_CMDS[@]}")
  [ "${1:-}" != apiserver ] || want=(kube-apiserver)
  mkdir -p "$CACHE"
  built "${want[@]}" && return 0
  # One builder per machine: concurrent callers wait for it, then reuse.
  exec 9>"$CACHE/.lock"
  if ! flock -n 9; then
    log "another build holds $CACHE/.lock; waiting"
    flock 9
  fi
  built "${want[@]}" && return 0
  local t0=$SECONDS
  bash "$(dirname "${BASH_SOURCE[0]}")/../../scripts/install-k8s-deps.sh"
  apt_setup
  fetch_debs
  prepare_source
  go_env
  built kube-apiserver || go_build kube-apiserver
  local rest=() c
  for c in "${want[@]}"; do built "$c" || rest+=("$c"); done
  [ ${#rest[@]} -eq 0 ] || go_build "${rest[@]}"
  "$BIN/kube-apiserver" --version >&2
  log "build done in $((SECONDS - t0)) s"
}

cmd_paths() {
  cat <<EOF
K8S_CACHE=$CACHE
K8S_BIN=$BIN
K8S_ROOT=$ROOT
K8S_KUBECTL=$KUBECTL
K8S_ETCD=$ETCD
K8S_ETCDCTL=$ROOT/usr/bin/etcdctl
EOF
}

# --- running instances -----------------------------------------------------

# A port the kernel says is free on 127.0.0.1 now. Two instances can still race
# for it between this call and the bind; cmd_up retries with fresh ports.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Kill a PID we recorded, but only if it still runs the binary we started
# (PIDs get reused) and only after a bounded wait for a clean exit.
kill_recorded() { # PID EXE [SIGNAL]
  local pid=$1 exe=$2 sig=${3:-TERM} i
  [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 0
  # A rebuilt binary shows as "PATH (deleted)": still ours.
  local running
  running=$(readlink "/proc/$pid/exe" 2>/dev/null)
  [ "${running% (deleted)}" = "$(readlink -f "$exe")" ] || return 0
  kill -"$sig" "$pid" 2>/dev/null || return 0
  for i in $(seq 1 100); do
    [ -d "/proc/$pid" ] || return 0
    # A zombie child of ours is gone for our purpose.
    grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null && return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

make_pki() {
  local d=$1
  mkdir -p "$d"
  (
    cd "$d"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 30 \
      -subj "/CN=sluice-test-ca" 2>/dev/null
    {
      echo "subjectAltName=IP:127.0.0.1,IP:::1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
      echo "extendedKeyUsage=serverAuth"
      echo "keyUsage=digitalSignature,keyEncipherment"
    } > server.ext
    openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr \
      -subj "/CN=kube-apiserver" 2>/dev/null
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
      -days 30 -extfile server.ext -out server.crt 2>/dev/null
    # A client certificate for the admin (cert auth, as kubeconfigs allow).
    printf 'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n' > client.ext
    openssl req -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr \
      -subj "/O=system:masters/CN=admin-cert" 2>/dev/null
    openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
      -days 30 -extfile client.ext -out admin.crt 2>/dev/null
    # Service-account signing keys: TokenRequest needs them.
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    rm -f ./*.csr ./*.ext ca.srl
  )
}

write_kubeconfig() { # OUT SERVER CA USER token TOKEN | OUT SERVER CA USER cert CRT KEY
  local out=$1 server=$2 ca=$3 user=$4 kind=$5
  {
    printf 'apiVersion: v1\nkind: Config\nclusters:\n- name: sluice-test\n  cluster:\n'
    printf '    server: %s\n    certificate-authority: %s\n' "$server" "$ca"
    printf 'users:\n- name: %s\n  user:\n' "$user"
    if [ "$kind" = token ]; then
      printf '    token: %s\n' "$6"
    else
      printf '    client-certificate: %s\n    client-key: %s\n' "$6" "$7"
    fi
    printf 'contexts:\n- name: sluice-test\n  context:\n    cluster: sluice-test\n    user: %s\n' "$user"
    printf 'current-context: sluice-test\n'
  } > "$out"
}

# Starts etcd and kube-apiserver with state in DIR. Optional environment:
#   K8S_AUTHZ             authorization modes (default RBAC)
#   K8S_SERVICE_CIDR      service cluster IP range (default 10.96.0.0/16)
#   K8S_ADMISSION_DISABLE admission plugins to turn off (default
#                         ServiceAccount: without kube-controller-manager no
#                         "default" ServiceAccount or token Secret exists, so
#                         pod creation would fail)
#   K8S_APISERVER_ARGS    extra kube-apiserver flags
#   K8S_READY_TIMEOUT     seconds to wait for /readyz (default 120)
#   K8S_NETNS             run both inside this network namespace (cluster.sh)
cmd_up() {
  local dir=${1:?usage: up DIR}
  built kube-apiserver || die "not built: run '$0 build apiserver' first"
  [ ! -e "$dir/env" ] || die "$dir already holds an instance ($dir/env)"
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  UP_PIDS=() UP_OK=0 UP_DIR=$dir
  # On any failure: kill what we started and remove what we wrote.
  trap 'if [ "$UP_OK" = 0 ]; then for p in "${UP_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done; rm -rf "$UP_DIR"; fi' EXIT
  local nsx=()
  # nsenter (not `ip netns exec`): same mount namespace as the host.
  [ -z "${K8S_NETNS:-}" ] || nsx=(nsenter "--net=/run/netns/$K8S_NETNS")

  make_pki "$dir/pki"
  local token nobody
  token=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
  nobody=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
  printf '%s,admin,admin,system:masters\n%s,nobody,nobody\n' "$token" "$nobody" > "$dir/pki/tokens.csv"
  chmod 600 "$dir/pki/tokens.csv"

  local attempt etcd_port peer_port api_port etcd_pid api_pid i up=0
  for attempt in 1 2 3; do
    etcd_port=$(free_port); peer_port=$(free_port); api_port=$(free_port)
    [ "$etcd_port" != "$peer_port" ] && [ "$api_port" != "$etcd_port" ] && [ "$api_port" != "$peer_port" ] || continue
    rm -rf "$dir/etcd"
    setsid "${nsx[@]}" "$ETCD" --name sluice-test --data-dir "$dir/etcd" \
      --listen-client-urls "http://127.0.0.1:$etcd_port" \
      --advertise-client-urls "http://127.0.0.1:$etcd_port" \
      --listen-peer-urls "http://127.0.0.1:$peer_port" \
      --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
      --initial-cluster "sluice-test=http://127.0.0.1:$peer_port" \
      --log-level warn \
      > "$dir/etcd.log" 2>&1 < /dev/null &
    etcd_pid=$!
    UP_PIDS+=("$etcd_pid")
    for i in $(seq 1 150); do
      [ -d "/proc/$etcd_pid" ] || break
      if "${nsx[@]}" curl -fsS -m 2 "http://127.0.0.1:$etcd_port/health" 2>/dev/null | grep -q '"health":"true"'; then up=1; break; fi
      sleep 0.2
    done
    [ $up = 1 ] && break
    log "etcd did not come up on port $etcd_port (attempt $attempt): $(tail -3 "$dir/etcd.log")"
    kill -KILL "$etcd_pid" 2>/dev/null || true
    wait "$etcd_pid" 2>/dev/null || true
  done
  [ $up = 1 ] || die "etcd failed to start; see $dir/etcd.log"

  local p=$dir/pki
  # shellcheck disable=SC2086
  setsid "${nsx[@]}" "$BIN/kube-apiserver" \
    --etcd-servers="http://127.0.0.1:$etcd_port" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 \
    --secure-port="$api_port" --insecure-port=0 \
    --tls-cert-file="$p/server.crt" --tls-private-key-file="$p/server.key" \
    --client-ca-file="$p/ca.crt" \
    --token-auth-file="$p/tokens.csv" \
    --authorization-mode="${K8S_AUTHZ:-RBAC}" \
    --service-account-key-file="$p/sa.pub" \
    --service-account-signing-key-file="$p/sa.key" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-cluster-ip-range="${K8S_SERVICE_CIDR:-10.96.0.0/16}" \
    --endpoint-reconciler-type=none \
    --disable-admission-plugins="${K8S_ADMISSION_DISABLE-ServiceAccount}" \
    --allow-privileged=true \
    --kubelet-preferred-address-types=InternalIP,Hostname \
    --profiling=false \
    ${K8S_APISERVER_ARGS:-} \
    > "$dir/kube-apiserver.log" 2>&1 < /dev/null &
  api_pid=$!
  UP_PIDS+=("$api_pid")

  local server="https://127.0.0.1:$api_port"
  write_kubeconfig "$dir/admin.kubeconfig" "$server" "$p/ca.crt" admin token "$token"
  write_kubeconfig "$dir/admin-cert.kubeconfig" "$server" "$p/ca.crt" admin-cert cert "$p/admin.crt" "$p/admin.key"
  write_kubeconfig "$dir/nobody.kubeconfig" "$server" "$p/ca.crt" nobody token "$nobody"
  cat > "$dir/env" <<ENVEOF
K8S_DIR=$dir
K8S_SERVER=$server
K8S_HOST=127.0.0.1
K8S_PORT=$api_port
K8S_CA=$p/ca.crt
K8S_CA_KEY=$p/ca.key
K8S_TOKEN=$token
K8S_NOBODY_TOKEN=$nobody
K8S_KUBECONFIG=$dir/admin.kubeconfig
K8S_CERT_KUBECONFIG=$dir/admin-cert.kubeconfig
K8S_NOBODY_KUBECONFIG=$dir/nobody.kubeconfig
K8S_KUBECTL=$KUBECTL
K8S_BIN=$BIN
K8S_ETCD_URL=http://127.0.0.1:$etcd_port
K8S_ETCD_PID=$etcd_pid
K8S_APISERVER_PID=$api_pid
K8S_NETNS=${K8S_NETNS:-}
ENVEOF

  local deadline=$((SECONDS + ${K8S_READY_TIMEOUT:-120}))
  while :; do
    [ -d "/proc/$api_pid" ] || die "kube-apiserver exited: $(tail -5 "$dir/kube-apiserver.log")"
    if [ "$("${nsx[@]}" curl -sS -m 3 --cacert "$p/ca.crt" -H "Authorization: Bearer $token" "$server/readyz" 2>/dev/null)" = ok ]; then
      break
    fi
    [ $SECONDS -lt $deadline ] || die "kube-apiserver not ready after ${K8S_READY_TIMEOUT:-120} s: $(tail -5 "$dir/kube-apiserver.log")"
    sleep 0.5
  done
  UP_OK=1
  trap - EXIT
  log "up: $server (dir $dir)"
}

cmd_down() {
  local dir=${1:?usage: down DIR}
  [ -d "$dir" ] || return 0
  if [ ! -f "$dir/env" ]; then
    # Never rm -rf a directory we did not make: it must look like ours.
    if [ -z "$(ls -A "$dir")" ]; then rmdir "$dir"; return 0; fi
    die "$dir has no env file; refusing to remove it"
  fi
  local K8S_APISERVER_PID='' K8S_ETCD_PID=''
  # shellcheck disable=SC1090,SC1091
  . "$dir/env"
  kill_recorded "$K8S_APISERVER_PID" "$BIN/kube-apiserver"
  kill_recorded "$K8S_ETCD_PID" "$ETCD"
  rm -rf "$dir"
}

cmd_env() {
  local dir=${1:?usage: env DIR}
  [ -f "$dir/env" ] || die "no instance in $dir"
  cat "$dir/env"
}

# Sourced (by cluster.sh): functions only.
[ "${BASH_SOURCE[0]}" = "$0" ] || return 0

case ${1:-} in
  build) cmd_build "${2:-}" ;;
  paths) cmd_paths ;;
  fetch) shift; cmd_fetch "$@" ;;
  up) cmd_up "${2:-}" ;;
  down) cmd_down "${2:-}" ;;
  env) cmd_env "${2:-}" ;;
  *) echo "usage: $0 build|up DIR|down DIR|env DIR|paths" >&2; exit 2 ;;
esac
