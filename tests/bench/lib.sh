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
