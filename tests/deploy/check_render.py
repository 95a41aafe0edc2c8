#!/usr/bin/python3
"""check_render.py - what a rendering of the sluice chart must say.

  check_render.py defaults|privileged|no-taint|custom-paths|embedded-proxy|netns-prefix-args RENDERED.yaml
  check_render.py rbac RENDERED.yaml deploy/kubernetes/rbac.yaml

The first form checks the DaemonSet's contract (issue #13 section 2) for one
values file; the second checks that the chart renders the very RBAC objects
of deploy/kubernetes/rbac.yaml. Prints each failed check; exit 1 if any.
"""
import sys

import yaml

fails = []


def check(cond, what):
    if not cond:
        fails.append(what)


def objs(path):
    with open(path) as f:
        return [o for o in yaml.safe_load_all(f) if o]


def one(os_, kind, name=None):
    found = [o for o in os_ if o.get("kind") == kind and (name is None or o["metadata"]["name"] == name)]
    return found[0] if len(found) == 1 else None


# the agent's --netns-prefix in each variant (ci/*-values.yaml)
PREFIX = {"custom-paths": "node2-", "netns-prefix-args": "args-"}


def daemonset(os_, variant):
    ds = one(os_, "DaemonSet", "sluice")
    check(ds is not None, "one DaemonSet sluice")
    if ds is None:
        return
    check(ds["metadata"].get("namespace") == "kube-system", "DaemonSet in kube-system")
    check(ds["spec"]["updateStrategy"]["type"] == "RollingUpdate", "RollingUpdate")
    pod = ds["spec"]["template"]["spec"]
    check(pod.get("hostNetwork") is True, "hostNetwork")
    check(pod.get("priorityClassName") == "system-node-critical", "system-node-critical")
    check({"operator": "Exists"} in pod.get("tolerations", []), "tolerations [{operator: Exists}]")
    check(0 < pod.get("terminationGracePeriodSeconds", 30) <= 10, "short terminationGracePeriodSeconds")
    check(pod.get("serviceAccountName") == "sluice", "serviceAccountName sluice")
    agent = [c for c in pod["containers"] if c["name"] == "agent"]
    check(len(agent) == 1, "one agent container")
    if not agent:
        return
    a = agent[0]
    inits = {c["name"]: c for c in pod.get("initContainers", [])}
    env = {e["name"]: e for e in a.get("env", [])}
    check(env.get("K8S_NODE_NAME", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "spec.nodeName",
          "K8S_NODE_NAME from spec.nodeName")
    for probe, path in (("startupProbe", "/healthz"), ("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        hg = a.get(probe, {}).get("httpGet", {})
        check(hg.get("path") == path and hg.get("host") == "127.0.0.1", f"{probe} on 127.0.0.1{path}")
    sc = a.get("securityContext", {})
    mounts = {m["mountPath"]: m for m in a.get("volumeMounts", [])}
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    host = {m["mountPath"]: vols[m["name"]].get("hostPath", {}).get("path") for m in a.get("volumeMounts", [])
            if "hostPath" in vols.get(m["name"], {})}
    priv = variant == "privileged"
    if priv:
        check(sc.get("privileged") is True, "privileged agent")
        check(mounts.get("/sys/fs/bpf", {}).get("mountPropagation") == "Bidirectional",
              "privileged: bpffs Bidirectional")
    else:
        check(sc.get("privileged") is False, "agent not privileged")
        caps = sc.get("capabilities", {})
        check(caps.get("add") == ["BPF", "PERFMON", "NET_ADMIN", "SYS_ADMIN"],
              f"capabilities BPF PERFMON NET_ADMIN SYS_ADMIN (got {caps.get('add')})")
        check(caps.get("drop") == ["ALL"], "capabilities drop ALL")
        check(mounts.get("/sys/fs/bpf", {}).get("mountPropagation") == "HostToContainer",
              "bpffs HostToContainer")
    cg = "/sys/fs/cgroup/unified" if variant == "custom-paths" else "/sys/fs/cgroup"
    cni_conf = "/etc/cni/conf.d" if variant == "custom-paths" else "/etc/cni/net.d"
    cni_bin = "/usr/libexec/cni" if variant == "custom-paths" else "/opt/cni/bin"
    for mp, hp in (("/sys/fs/bpf", "/sys/fs/bpf"), (cg, cg), ("/host/proc", "/proc"),
                   ("/var/run/netns", "/var/run/netns"), ("/host/etc/cni/net.d", cni_conf),
                   ("/run/sluice", "/run/sluice")):
        check(host.get(mp) == hp, f"hostPath {hp} at {mp} (got {host.get(mp)})")
    check(mounts.get("/var/run/netns", {}).get("mountPropagation") == "HostToContainer",
          "/var/run/netns HostToContainer")
    cm = one(os_, "ConfigMap", "sluice-config")
    check(cm is not None and cm["data"].get("cgroup-root") == cg, f"ConfigMap cgroup-root {cg}")
    pods = cg + ("/kubepods" if variant == "custom-paths" else "/kubepods.slice")
    check(cm is not None and cm["data"].get("pods-cgroup") == pods, f"ConfigMap pods-cgroup {pods}")
    check(any(v.get("configMap", {}).get("name") == "sluice-config" for v in vols.values()),
          "ConfigMap mounted")
    if variant == "netns-prefix-args":
        check(cm is not None and cm["data"].get("netns-prefix") == "cfg-", "extraConfig netns-prefix in the ConfigMap")
        check("--netns-prefix=args-" in a.get("args", []), "extraArgs --netns-prefix on the agent")
    else:
        pfx = PREFIX.get(variant, "sluice-")
        check(cm is not None and cm["data"].get("netns-prefix") == pfx, f"ConfigMap netns-prefix {pfx}")
    # the CNI plugin: atomic install
    inst = inits.get("install-cni-plugin")
    check(inst is not None, "install-cni-plugin init container")
    if inst:
        script = " ".join(inst["command"])
        check(".sluice-cni.new" in script and "mv -f" in script, "sluice-cni copied then renamed")
        im = {m["mountPath"]: vols[m["name"]]["hostPath"]["path"] for m in inst["volumeMounts"]}
        check(im.get("/host/opt/cni/bin") == cni_bin, f"CNI bin dir {cni_bin}")
    mb = inits.get("mount-bpf-fs")
    if variant == "custom-paths":
        check(mb is None, "bpf.autoMount false: no mount-bpf-fs")
        check("preStop" in a.get("lifecycle", {}), "cni.uninstall: preStop")
        check(cm is not None and cm["data"].get("log-format") == "json", "logFormat json")
        check(cm is not None and cm["data"].get("metrics") == "off", "metrics off")
        check("@sha256:" in a["image"], "image by digest")
        check(env.get("KUBERNETES_SERVICE_HOST", {}).get("value") == "127.0.0.1", "k8sServiceHost")
    else:
        check(mb is not None and mb["securityContext"].get("privileged") is True,
              "mount-bpf-fs privileged (Bidirectional needs it)")
        if mb:
            check(mb["volumeMounts"][0].get("mountPropagation") == "Bidirectional", "mount-bpf-fs Bidirectional")
        check("lifecycle" not in a, "no preStop by default (cni.uninstall false)")
    svc = one(os_, "Service", "sluice-metrics")
    taint = {"key": "sluice.io/agent-not-ready", "operator": "Exists", "effect": "NoExecute"}
    if variant == "no-taint":
        check(svc is None, "no metrics Service")
        check(taint not in pod["tolerations"], "no taint toleration")
    elif variant in ("defaults", "privileged"):
        check(svc is not None and svc["metadata"]["annotations"].get("prometheus.io/scrape") == "true",
              "metrics Service annotated for Prometheus")
        check(svc is not None and svc["metadata"]["annotations"].get("prometheus.io/port") == "9962",
              "prometheus.io/port 9962")
        check(taint in pod["tolerations"], "tolerates its own taint")


def proxy(os_, variant):
    """The L7 proxy: its own DaemonSet by default (it outlives the agent's
    container), the agent's child with proxy.mode=embedded."""
    cm = one(os_, "ConfigMap", "sluice-config")
    px = one(os_, "DaemonSet", "sluice-proxy")
    data = cm["data"] if cm else {}
    if variant == "embedded-proxy":
        check(px is None, "proxy.mode embedded: no sluice-proxy DaemonSet")
        check("proxy-control" not in data, "proxy.mode embedded: the agent starts its own proxy (no proxy-control)")
        return
    check(px is not None, "one DaemonSet sluice-proxy (proxy.mode separate, the default)")
    if px is None:
        return
    ds = one(os_, "DaemonSet", "sluice")
    sel = px["spec"]["selector"]["matchLabels"]
    plabels = px["spec"]["template"]["metadata"]["labels"]
    if ds:
        asel = ds["spec"]["selector"]["matchLabels"]
        check(not all(plabels.get(k) == v for k, v in asel.items()),
              "the proxy's pods do not match the agent's selector")
        check(not all(ds["spec"]["template"]["metadata"]["labels"].get(k) == v for k, v in sel.items()),
              "the agent's pods do not match the proxy's selector")
    check(px["spec"]["updateStrategy"]["type"] == "RollingUpdate", "proxy RollingUpdate")
    pod = px["spec"]["template"]["spec"]
    check(pod.get("hostNetwork") is True, "proxy hostNetwork")
    check(pod.get("automountServiceAccountToken") is False, "proxy without API credentials")
    check(pod.get("priorityClassName") == "system-node-critical", "proxy system-node-critical")
    check(len(pod["containers"]) == 1, "one proxy container")
    c = pod["containers"][0]
    args = c.get("args", [])
    ctl = [a.split("=", 1)[1] for a in args if a.startswith("--control=")]
    check(ctl and data.get("proxy-control") == ctl[0],
          f"the agent's proxy-control is the proxy's --control (agent {data.get('proxy-control')}, proxy {ctl})")
    check(ctl and ctl[0].startswith("/run/sluice/"), "the control socket in runPath, shared with the agent")
    check(any(a.startswith("--health=127.0.0.1:") for a in args), "proxy --health on 127.0.0.1")
    # the agent's system cgroup: <cgroup-root>/<netns-prefix>system, with the
    # prefix the agent ends up with (netnsPrefix, extraConfig, extraArgs)
    syscg = data.get("cgroup-root", "").rstrip("/") + "/" + PREFIX.get(variant, "sluice-") + "system"
    check(f"--cgroup={syscg}" in args,
          f"the proxy joins the agent's system cgroup {syscg} (got {[a for a in args if a.startswith('--cgroup')]})")
    check(any(a.startswith("--bpf-root=") for a in args), "proxy --bpf-root")
    for probe, path in (("startupProbe", "/healthz"), ("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        hg = c.get(probe, {}).get("httpGet", {})
        check(hg.get("path") == path and hg.get("host") == "127.0.0.1", f"proxy {probe} on 127.0.0.1{path}")
    sc = c.get("securityContext", {})
    if variant == "privileged":
        check(sc.get("privileged") is True, "privileged: the proxy too")
    else:
        check(sc.get("privileged") is False, "proxy not privileged")
        caps = sc.get("capabilities", {})
        check(caps.get("add") == ["BPF", "SYS_ADMIN"], f"proxy capabilities BPF SYS_ADMIN (got {caps.get('add')})")
        check(caps.get("drop") == ["ALL"], "proxy capabilities drop ALL")
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    host = {m["mountPath"]: vols[m["name"]].get("hostPath", {}).get("path") for m in c.get("volumeMounts", [])
            if "hostPath" in vols.get(m["name"], {})}
    check(host.get("/run/sluice") == "/run/sluice", "proxy mounts /run/sluice")
    check(host.get("/sys/fs/bpf") == "/sys/fs/bpf", "proxy mounts /sys/fs/bpf")
    check(not any(p in host.values() for p in ("/proc", "/etc/cni/net.d", "/opt/cni/bin")),
          "the proxy mounts nothing it does not use (no /proc, no CNI directories)")


def norm(o):
    o = dict(o)
    md = dict(o.get("metadata", {}))
    md.pop("namespace", None)
    o["metadata"] = md
    return o


def rbac(rendered, plain):
    kinds = ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")
    r = sorted((norm(o) for o in objs(rendered) if o.get("kind") in kinds), key=lambda o: (o["kind"], o["metadata"]["name"]))
    p = sorted((norm(o) for o in objs(plain) if o.get("kind") in kinds), key=lambda o: (o["kind"], o["metadata"]["name"]))
    check(len(p) >= 3, "rbac.yaml has ServiceAccount, ClusterRole and binding")
    check(r == p, "the chart renders the RBAC objects of deploy/kubernetes/rbac.yaml")
    cr = [o for o in p if o["kind"] == "ClusterRole"]
    rules = [ru for o in cr for ru in o.get("rules", [])]
    check(any("" in ru.get("apiGroups", []) and "nodes" in ru.get("resources", []) and "patch" in ru.get("verbs", [])
              for ru in rules), "ClusterRole grants nodes patch (the agent removes its node's taint)")
    sa = [o for o in p if o["kind"] == "ServiceAccount"]
    check(any(o["metadata"]["name"] == "sluice" for o in sa), "ServiceAccount sluice (the DaemonSet's)")


def main():
    if sys.argv[1] == "rbac":
        rbac(sys.argv[2], sys.argv[3])
    else:
        daemonset(objs(sys.argv[2]), sys.argv[1])
        proxy(objs(sys.argv[2]), sys.argv[1])
    for f in fails:
        print(f"check_render {sys.argv[1]}: FAILED: {f}")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
