# shellcheck shell=bash
# lib.sh - configuration files the benchmarks share, so that every bench
# measures the same servers.
#
#   bench_nginx_conf DIR LISTEN      DIR/nginx.conf: one worker, `return 200
#                                    "ok\n"` on LISTEN (e.g. 80, 10.0.0.2:80),
#                                    keep-alive without limits, no access log,
#                                    everything under DIR
#   bench_haproxy_acl BIND SERVER    prints the HAProxy 2.6 config (one
#                                    thread) of sluice's rule `GET
#                                    /api/users/.*`: 403 otherwise, keep-alive,
#                                    to SERVER (host:port)
#   bench_workdir PREFIX             $work: a new /tmp/PREFIX-XXXXXX; $pids:
#                                    processes killed (and $work removed) on exit
#   bench_free_port                  prints a free TCP port on 127.0.0.1
#   bench_wait_port PORT [TRIES]     waits until 127.0.0.1:PORT accepts (TRIES
#                                    x 0.05 s at most, default 100), else exits 1

bench_nginx_conf() {
	local dir=$1 listen=$2
	mkdir -p "$dir/tmp"
	cat >"$dir/nginx.conf" <<NGINX
worker_processes 1;
master_process off;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 8192; }
http {
	access_log off;
	keepalive_requests 100000000;
	keepalive_timeout 300s;
	client_body_temp_path $dir/tmp;
	proxy_temp_path $dir/tmp;
	fastcgi_temp_path $dir/tmp;
	uwsgi_temp_path $dir/tmp;
	scgi_temp_path $dir/tmp;
	server {
		listen $listen backlog=4096;
		default_type text/plain;
		location / { return 200 "ok\n"; }
	}
}
NGINX
}

# the ACL sluice's rule expresses: method GET and the path fully matching
# /api/users/.* (sluice anchors its regexes at both ends)
bench_haproxy_acl() {
	cat <<HAP
global
  nbthread 1
  maxconn 8000
defaults
  mode http
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  option http-keep-alive
frontend fe
  bind $1
  acl allowed_path path_reg ^/api/users/.*\$
  http-request deny deny_status 403 unless METH_GET allowed_path
  default_backend be
backend be
  server origin $2
HAP
}

bench_workdir() {
	work=$(mktemp -d "/tmp/$1-XXXXXX")
	pids=()
	trap bench_workdir_cleanup EXIT
}

bench_workdir_cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}

bench_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

bench_wait_port() {
	local i
	for i in $(seq 1 "${2:-100}"); do
		python3 -c "import socket; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "$0: nothing listens on $1" >&2
	exit 1
}
