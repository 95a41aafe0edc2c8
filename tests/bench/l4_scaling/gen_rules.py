#!/usr/bin/env python3
"""gen_rules.py - one rule set, written for every competitor of the benches.

"N rules" means the same thing everywhere: N allow rules, rule i admitting
TCP from one source address (10.250.i/256.i%256, a /32 no benchmark client
ever uses) to one destination port (10000 + i), plus one rule admitting the
client to the server port, and nothing else (default deny). The N rules
never match the benchmark traffic, so a linear ruleset walks all of them on
every packet it judges.

  gen_rules.py FORMAT N CLIENT_IP SERVER_PORT [--change]

FORMAT:
  sluice        a CiliumNetworkPolicy on app=bench-server: the client by
                identity (fromEndpoints app=bench-client), the N rules as
                fromCIDR /32 + toPorts (each becomes a CIDR identity and one
                trie entry, as in Cilium)
  iptables      an iptables-restore file: N `-A INPUT -s IP -p tcp --dport P
                -j ACCEPT`, the client's ACCEPT last, then DROP
  iptables-cmds the same rules as `-A ...` argument lines, one per command
  ipset         an `ipset restore` file: one hash:ip,port set, N+1 entries
  ipset-rules   the iptables-restore file that uses that set
  nft-chain     an `nft -f` file: the same N rules as a linear chain
  nft-set       an `nft -f` file: one concatenated set of N+1 elements

  pods          N pods of other nodes for `sluice pod import`: bench/peer-i
                at 10.251.i/256.i%256 with labels app=peer-i (N identities)
  sluice-ids    a CiliumNetworkPolicy on app=bench-server (name bench-ids):
                N rules, rule i admitting app=peer-i to port 10000 + i

--change alters one rule (the one in the middle gets another port): the
"change one rule" case of the apply bench.
"""
import sys

SET_NAME = "sluice_bench"
TABLE = "sluice_bench"


def rules(n, change):
    for i in range(n):
        port = 10000 + i
        if change and i == n // 2:
            port = 9000
        yield "10.250.%d.%d" % (i >> 8, i & 255), port


def main():
    args = [a for a in sys.argv[1:] if a != "--change"]
    change = "--change" in sys.argv[1:]
    if len(args) != 4:
        sys.exit(__doc__)
    fmt, n, client, sport = args[0], int(args[1]), args[2], int(args[3])
    if n > 50000:
        sys.exit("at most 50000 rules (ports 10000-59999)")
    out = []
    w = out.append
    if fmt == "sluice":
        w('apiVersion: "cilium.io/v2"\nkind: CiliumNetworkPolicy\nmetadata:\n'
          '  name: bench-rules\n  namespace: bench\nspec:\n  endpointSelector:\n'
          '    matchLabels:\n      app: bench-server\n  ingress:\n'
          '  - fromEndpoints:\n    - matchLabels:\n        app: bench-client\n'
          '    toPorts:\n    - ports:\n      - port: "%d"\n        protocol: TCP\n' % sport)
        for ip, port in rules(n, change):
            w('  - fromCIDR:\n    - %s/32\n    toPorts:\n    - ports:\n'
              '      - port: "%d"\n        protocol: TCP\n' % (ip, port))
    elif fmt == "pods":
        for i in range(n):
            w("bench/peer-%d 10.251.%d.%d app=peer-%d\n" % (i, i >> 8, i & 255, i))
    elif fmt == "sluice-ids":
        w('apiVersion: "cilium.io/v2"\nkind: CiliumNetworkPolicy\nmetadata:\n'
          '  name: bench-ids\n  namespace: bench\nspec:\n  endpointSelector:\n'
          '    matchLabels:\n      app: bench-server\n  ingress:\n')
        for i, (_, port) in enumerate(rules(n, change)):
            w('  - fromEndpoints:\n    - matchLabels:\n        app: peer-%d\n    toPorts:\n'
              '    - ports:\n      - port: "%d"\n        protocol: TCP\n' % (i, port))
    elif fmt in ("iptables", "iptables-cmds"):
        lines = ["-A INPUT -s %s/32 -p tcp -m tcp --dport %d -j ACCEPT" % r
                 for r in rules(n, change)]
        lines.append("-A INPUT -s %s/32 -p tcp -m tcp --dport %d -j ACCEPT" % (client, sport))
        lines.append("-A INPUT -j DROP")
        if fmt == "iptables":
            w("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n")
            w("\n".join(lines) + "\nCOMMIT\n")
        else:
            w("\n".join(lines) + "\n")
    elif fmt == "ipset":
        w("create %s hash:ip,port family inet hashsize 1024 maxelem %d\n"
          % (SET_NAME, max(65536, 2 * n)))
        for ip, port in rules(n, change):
            w("add %s %s,tcp:%d\n" % (SET_NAME, ip, port))
        w("add %s %s,tcp:%d\n" % (SET_NAME, client, sport))
    elif fmt == "ipset-rules":
        w("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
          "-A INPUT -m set --match-set %s src,dst -j ACCEPT\n-A INPUT -j DROP\nCOMMIT\n"
          % SET_NAME)
    elif fmt == "nft-chain":
        w("table ip %s\ndelete table ip %s\n" % (TABLE, TABLE))
        w("table ip %s {\n  chain input {\n    type filter hook input priority 0; policy drop;\n"
          % TABLE)
        for ip, port in rules(n, change):
            w("    ip saddr %s tcp dport %d accept\n" % (ip, port))
        w("    ip saddr %s tcp dport %d accept\n  }\n}\n" % (client, sport))
    elif fmt == "nft-set":
        w("table ip %s\ndelete table ip %s\n" % (TABLE, TABLE))
        w("table ip %s {\n  set allowed {\n    type ipv4_addr . inet_service\n"
          "    size %d\n    elements = {\n" % (TABLE, max(65536, 2 * n)))
        elems = ["      %s . %d" % r for r in rules(n, change)]
        elems.append("      %s . %d" % (client, sport))
        w(",\n".join(elems) + "\n    }\n  }\n")
        w("  chain input {\n    type filter hook input priority 0; policy drop;\n"
          "    ip saddr . tcp dport @allowed accept\n  }\n}\n")
    else:
        sys.exit("unknown format " + fmt)
    sys.stdout.write("".join(out))


if __name__ == "__main__":
    main()
