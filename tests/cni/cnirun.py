#!/usr/bin/env python3
"""cnirun.py - runs a CNI network configuration list the way a runtime does
(libcni): each plugin of the conflist gets its own configuration on stdin
(the plugin object plus the list's cniVersion and name, and prevResult from
the plugin before it), the CNI_* environment, and its binary from CNI_PATH.
ADD runs the plugins in order and caches the final result (as libcni does
in /var/lib/cni/results); CHECK runs them in order and DEL in reverse, both
with the cached result as prevResult; a successful DEL drops the cache.

usage: cnirun.py ADD|CHECK|DEL CONFLIST CONTAINERID NETNS IFNAME CNI_ARGS
env:   CNI_PATH (plugin directories, ':'-separated), CNIRUN_CACHE (a dir)
exit:  0 on success (ADD prints the result); else the failing plugin's exit
       status, its error JSON on stdout.
"""
import json
import os
import subprocess
import sys
import time


def find_plugin(name):
    for d in os.environ["CNI_PATH"].split(":"):
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    sys.exit("cnirun: plugin %s not in CNI_PATH" % name)


def run(plugin, conf, env):
    t0 = time.monotonic()
    p = subprocess.run([find_plugin(plugin["type"])], input=json.dumps(conf).encode(),
                       env=env, stdout=subprocess.PIPE, timeout=120)
    if os.environ.get("CNIRUN_TIMES"):
        with open(os.environ["CNIRUN_TIMES"], "a") as f:
            f.write("%s %s %.1f\n" % (env["CNI_COMMAND"], plugin["type"],
                                       (time.monotonic() - t0) * 1000))
    return p.returncode, p.stdout.decode()


def main():
    cmd, conflist, cid, netns, ifname, args = sys.argv[1:7]
    with open(conflist) as f:
        nl = json.load(f)
    cache_dir = os.environ["CNIRUN_CACHE"]
    os.makedirs(cache_dir, exist_ok=True)
    cache = os.path.join(cache_dir, "%s-%s-%s" % (nl["name"], cid, ifname))
    env = dict(os.environ, CNI_COMMAND=cmd, CNI_CONTAINERID=cid, CNI_NETNS=netns,
               CNI_IFNAME=ifname, CNI_ARGS=args)
    prev = None
    if cmd in ("CHECK", "DEL") and os.path.exists(cache):
        with open(cache) as f:
            prev = json.load(f)
    plugins = nl["plugins"] if cmd != "DEL" else list(reversed(nl["plugins"]))
    for plugin in plugins:
        conf = dict(plugin, cniVersion=nl["cniVersion"], name=nl["name"])
        if prev is not None:
            conf["prevResult"] = prev
        rc, out = run(plugin, conf, env)
        if rc != 0:
            sys.stdout.write(out)
            sys.exit(rc)
        if cmd == "ADD":
            prev = json.loads(out)
    if cmd == "ADD":
        with open(cache, "w") as f:
            json.dump(prev, f)
        print(json.dumps(prev))
    elif cmd == "DEL" and os.path.exists(cache):
        os.unlink(cache)


main()
