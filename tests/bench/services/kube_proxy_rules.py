#!/usr/bin/env python3
"""kube_proxy_rules.py - iptables-restore input of the shape kube-proxy's
iptables mode writes for N ClusterIP services of one port and one backend
each: KUBE-SERVICES (jumped to from nat OUTPUT and PREROUTING) holds one
rule per service (-d CLUSTERIP -p tcp --dport PORT -j KUBE-SVC-*), each
KUBE-SVC-* marks off-cluster sources for masquerade and jumps to its one
KUBE-SEP-*, which DNATs to the backend. The measured service sits at
position TARGET_POS of KUBE-SERVICES (kube-proxy writes services in map
order, so a service is on average half way down the list).

usage: kube_proxy_rules.py N TARGET_IP TARGET_POS BACKEND_IP BACKEND_PORT POD_CIDR
Other services get ClusterIPs 10.98.0.0/16 onwards and backends in
10.99.0.0/16 (never reached).
"""
import hashlib
import sys

n, target_ip, target_pos = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
backend_ip, backend_port, pod_cidr = sys.argv[4], int(sys.argv[5]), sys.argv[6]


def chain(prefix, name):
    h = hashlib.sha256(name.encode()).digest()
    import base64
    return prefix + base64.b32encode(h).decode()[:16]


out = ["*nat", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
       ":POSTROUTING ACCEPT [0:0]", ":KUBE-SERVICES - [0:0]", ":KUBE-NODEPORTS - [0:0]",
       ":KUBE-MARK-MASQ - [0:0]", ":KUBE-POSTROUTING - [0:0]"]
rules = []
chains = []
for i in range(n):
    if i == target_pos:
        cip, bip, port, name = target_ip, backend_ip, 80, "bench/target:http"
    else:
        cip = "10.98.%d.%d" % (i // 250, i % 250 + 1)
        bip = "10.99.%d.%d" % (i // 250, i % 250 + 1)
        port, name = 80, "bench/svc-%d:http" % i
    svc, sep = chain("KUBE-SVC-", name), chain("KUBE-SEP-", name + bip)
    chains += [":%s - [0:0]" % svc, ":%s - [0:0]" % sep]
    rules.append('-A KUBE-SERVICES -d %s/32 -p tcp -m comment --comment "%s cluster IP" -m tcp '
                 '--dport %d -j %s' % (cip, name, port, svc))
    rules.append('-A %s ! -s %s -d %s/32 -p tcp -m comment --comment "%s cluster IP" -m tcp '
                 '--dport %d -j KUBE-MARK-MASQ' % (svc, pod_cidr, cip, name, port))
    rules.append('-A %s -m comment --comment "%s -> %s:%d" -j %s' % (svc, name, bip,
                                                                   backend_port if i == target_pos else 8080, sep))
    rules.append('-A %s -s %s/32 -m comment --comment "%s" -j KUBE-MARK-MASQ' % (sep, bip, name))
    rules.append('-A %s -p tcp -m comment --comment "%s" -m tcp -j DNAT --to-destination %s:%d'
                 % (sep, name, bip, backend_port if i == target_pos else 8080))
out += chains
out += ['-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
        '-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000',
        '-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN',
        '-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0',
        '-A KUBE-POSTROUTING -j MASQUERADE --random-fully']
out += rules
out.append('-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports" '
           '-m addrtype --dst-type LOCAL -j KUBE-NODEPORTS')
out.append("COMMIT")
print("\n".join(out))
