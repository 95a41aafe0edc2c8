#!/usr/bin/env bash
# Services, bad input: each mistake gets a clear error naming what is
# wrong, and the services that exist stay as they were (and keep working).
# A /28 service range (14 addresses) and a small service map, so that
# "range exhausted" and "map full" are reachable.
source "$(dirname "$0")/lib.sh"
SL_SERVICE_PLEN=28
t_begin --service-max-entries 24

pod default/backend app=backend --port http=8080/TCP
pod default/client app=client
serve default/backend tcp:8080
CIP=$(sl service create default/api --selector app=backend --port http=80:8080/TCP)
check "a good service works" can default/client tcp "$CIP" 80
list_before=$(sl service list -o json)

echo "== syntax the CLI refuses"
check_exit 2 "selector with != " sl service create default/x --selector 'app!=backend' --port 80:8080/TCP
check_said "unknown selector syntax"
check_exit 2 "set-based selector" sl service create default/x --selector 'app in (a,b)' --port 80:8080/TCP
check_said "unknown selector syntax"
check_exit 2 "selector without a value" sl service create default/x --selector 'app' --port 80:8080/TCP
check_said "equality only"
check_exit 2 "port out of range" sl service create default/x --selector app=backend --port 70000:8080/TCP
check_said "port 70000 out of range (1-65535)"
check_exit 2 "target port out of range" sl service create default/x --selector app=backend --port 80:0/TCP
check_said "out of range"
check_exit 2 "unknown protocol" sl service create default/x --selector app=backend --port 80:8080/ICMP
check_said "want TCP or UDP"
check_exit 2 "bad target port name" sl service create default/x --selector app=backend --port 80:Http_Port/TCP
check_said "IANA_SVC_NAME"
check_exit 1 "bad service name" sl service create default/Bad_Name --selector app=backend --port 80:8080/TCP
check_said "DNS-1035"

echo "== what the agent refuses"
check_exit 1 "duplicate port name" sl service create default/x --selector app=backend \
	--port http=80:8080/TCP --port http=81:8080/TCP
check_said "duplicate port name \"http\""
check_exit 1 "duplicate port" sl service create default/x --selector app=backend \
	--port a=80:8080/TCP --port b=80:8081/TCP
check_said "duplicate port 80/TCP"
check_exit 1 "several ports, one unnamed" sl service create default/x --selector app=backend \
	--port 80:8080/TCP --port b=81:8081/TCP
check_said "required when there is more than one port"
check_exit 1 "a service that exists" sl service create default/api --selector app=backend --port 80:8080/TCP
check_said "already exists"
check_exit 1 "deleting a missing service" sl service delete default/nope
check_said "service default/nope not found"
check_exit 1 "a ClusterIP outside the range" sl service create default/x --selector app=backend \
	--port 80:8080/TCP --cluster-ip 10.96.0
check_said "cluster_ip"
check_exit 1 "a ClusterIP in use" sl service create default/x --selector app=backend \
	--port 80:8080/TCP --cluster-ip "$CIP"
check_said "already allocated"

echo "== the ClusterIP range runs out (a /28: 14 addresses)"
made=1 # default/api
for i in $(seq 1 20); do
	sl service create "default/s$i" --selector app=nobody --port 80:8080/TCP >/dev/null 2>"$SL_WORK/last.err" || break
	made=$((made + 1))
done
expect_eq "14 services got an address" 14 "$made"
check "the 15th is refused: range exhausted" grep -q "no ClusterIP left in --service-cidr $SL_SERVICE_CIDR" "$SL_WORK/last.err"
check "freeing one makes room again" sh -c "$(declare -f sl); SL_BUILD='$SL_BUILD' SL_SOCK='$SL_SOCK'; sl service delete default/s3 >/dev/null && sl service create default/again --selector app=nobody --port 80:8080/TCP >/dev/null"

echo "== the service map is full (--service-max-entries 24)"
for i in $(seq 1 20); do sl service delete "default/s$i" >/dev/null 2>&1; done
sl service delete default/again >/dev/null 2>&1
# 1 + 1 (api) used; a service of 12 ports needs 12 more, two of them 24
check "a service of 12 ports fits" sl service create default/wide --selector app=nobody \
	$(for p in $(seq 1 12); do printf -- '--port p%d=%d:8080/TCP ' "$p" "$((1000 + p))"; done)
check_exit 1 "the next one of 12 does not" sl service create default/wide2 --selector app=nobody \
	$(for p in $(seq 1 12); do printf -- '--port p%d=%d:8080/TCP ' "$p" "$((2000 + p))"; done)
check_said "service map full"
check_not "the refused service does not exist" sl service get default/wide2

echo "== what existed is untouched"
check "default/api still there with its address" sh -c "$(declare -f sl); SL_BUILD='$SL_BUILD' SL_SOCK='$SL_SOCK'; sl service get default/api | grep -q '$CIP'"
check "and still answers" can default/client tcp "$CIP" 80
expect_eq "the API answers errors with 'sluice:' and the agent is alive" ok "$(status_field health)"
t_finish
