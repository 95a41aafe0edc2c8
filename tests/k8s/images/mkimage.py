#!/usr/bin/env python3
"""mkimage.py - write a single-layer docker-archive image from a directory.

  mkimage.py --tag NAME:TAG --root DIR --out IMAGE.tar
             [--entrypoint JSON] [--cmd JSON] [--env K=V ...] [--workdir D]
             [--label K=V ...]

No container engine needed: the layer is a tar of DIR (owners root, fixed
mtimes, so the same input gives the same image), and the archive holds
manifest.json, the image config and the layer, which `ctr images import`
and `skopeo` read. python3 standard library only.
"""

import argparse
import hashlib
import io
import json
import os
import tarfile


def layer_tar(root):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            rel = os.path.relpath(dirpath, root)
            entries = [] if rel == "." else [rel]
            entries += [os.path.normpath(os.path.join(rel, f)) for f in sorted(filenames)]
            # Symlinks to directories are listed in dirnames but not walked.
            entries += [os.path.normpath(os.path.join(rel, d)) for d in dirnames
                        if os.path.islink(os.path.join(dirpath, d))]
            for name in entries:
                info = tar.gettarinfo(os.path.join(root, name), arcname=name)
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                info.mtime = 0
                if info.isfile():
                    with open(os.path.join(root, name), "rb") as f:
                        tar.addfile(info, f)
                else:
                    tar.addfile(info)
    return buf.getvalue()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tag", required=True, action="append")
    ap.add_argument("--root", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--entrypoint")
    ap.add_argument("--cmd")
    ap.add_argument("--env", action="append", default=[])
    ap.add_argument("--label", action="append", default=[])
    ap.add_argument("--workdir", default="/")
    a = ap.parse_args()

    layer = layer_tar(a.root)
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    cfg = {
        "architecture": "amd64",
        "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"] + a.env,
            "WorkingDir": a.workdir,
            "Labels": dict(kv.split("=", 1) for kv in a.label) or None,
        },
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "tests/k8s/images/mkimage.py"}],
    }
    if a.entrypoint:
        cfg["config"]["Entrypoint"] = json.loads(a.entrypoint)
    if a.cmd:
        cfg["config"]["Cmd"] = json.loads(a.cmd)
    cfg_bytes = json.dumps(cfg, sort_keys=True).encode()
    cfg_name = hashlib.sha256(cfg_bytes).hexdigest() + ".json"
    layer_name = diff_id[7:] + "/layer.tar"
    manifest = json.dumps([{"Config": cfg_name, "RepoTags": a.tag, "Layers": [layer_name]}]).encode()

    tmp = a.out + ".tmp"
    with tarfile.open(tmp, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in ((cfg_name, cfg_bytes), (layer_name, layer), ("manifest.json", manifest)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    os.replace(tmp, a.out)


if __name__ == "__main__":
    main()
