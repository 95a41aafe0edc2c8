#!/usr/bin/env python3
"""row.py - one row of the observe benchmark from two `sluice status -o json`
snapshots, the sender's summary line and the counts the shell script measured.

usage: row.py BEFORE_JSON AFTER_JSON PRINTED AGENT_TICKS CLI_TICKS FLOOD_LINE RATE
"""
import json
import os
import sys

b, a = json.loads(sys.argv[1]), json.loads(sys.argv[2])
printed, agent_ticks, cli_ticks = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
flood = dict(kv.split("=", 1) for kv in sys.argv[6].split())
rate = int(sys.argv[7])
drops = a["datapath"]["dropped_egress"] - b["datapath"]["dropped_egress"]
lost = a["events_lost"] - b["events_lost"]
seen = a["flows_seen"] - b["flows_seen"]
slow = a["flows_lost_by_slow_observers"] - b["flows_lost_by_slow_observers"]
tck = os.sysconf("SC_CLK_TCK")


def per10k(ticks):
    return ticks / tck * 1000 / max(seen, 1) * 10000


ok = drops > 0 and printed == drops and lost == 0 and slow == 0 and seen == drops
sender_ms = float(flood.get("cpu", 0)) * 1000 / max(int(flood.get("sent", 0)), 1) * 10000
print("%9d %8.0f %10d %8d %9d %8d %9d %9.1f %6.1f %9.1f  %s" % (
    rate, float(flood.get("rate", 0)), drops, lost, seen, slow, printed,
    per10k(agent_ticks), per10k(cli_ticks), sender_ms, "lossless" if ok else "LOSS"))
