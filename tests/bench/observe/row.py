#!/usr/bin/env python3
"""row.py - one row of the observe benchmark from two `sluice status -o json`
snapshots and the counts the shell script measured."""
import json
import os
import sys

b, a = json.loads(sys.argv[1]), json.loads(sys.argv[2])
printed, cpu = int(sys.argv[3]), int(sys.argv[4])
t0, t1, rate = float(sys.argv[5]), float(sys.argv[6]), int(sys.argv[7])
drops = a["datapath"]["dropped_egress"] - b["datapath"]["dropped_egress"]
lost = a["events_lost"] - b["events_lost"]
seen = a["flows_seen"] - b["flows_seen"]
slow = a["flows_lost_by_slow_observers"] - b["flows_lost_by_slow_observers"]
secs = max(t1 - t0, 1e-6)
ms_per_10k = cpu / os.sysconf("SC_CLK_TCK") * 1000 / max(seen, 1) * 10000
print("%9d %9.0f %8d %8d %9d %8d %9d %10.1f  %s" % (
    rate, drops / secs, drops, lost, seen, slow, printed, ms_per_10k,
    "lossless" if drops > 0 and printed == drops else "LOSS"))
