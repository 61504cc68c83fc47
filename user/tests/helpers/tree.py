#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Describe and compare directory trees, the truth the pull tests check against.

  tree.py same A B                  A and B hold identical trees
  tree.py merged ROOTFS LAYER...    applying LAYERs (bottom first, OCI
                                    whiteouts) gives exactly ROOTFS
Entries compare by type, permission bits, owner (as root), size, content
sha256 and symlink target.  Differences are printed, one per line.
"""
import hashlib
import os
import stat
import sys

WH = ".wh."
OPQ = ".wh..wh..opq"


def describe(path):
    st = os.lstat(path)
    d = {"type": stat.S_IFMT(st.st_mode), "mode": stat.S_IMODE(st.st_mode)}
    if os.geteuid() == 0:
        d["owner"] = (st.st_uid, st.st_gid)
    if stat.S_ISREG(st.st_mode):
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        d["size"] = st.st_size
        d["sha256"] = h.hexdigest()
    elif stat.S_ISLNK(st.st_mode):
        d["target"] = os.readlink(path)
        del d["mode"]
    return d


def walk(root):
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            full = os.path.join(dirpath, n)
            out[os.path.relpath(full, root)] = full
    return out


def tree(root):
    return {rel: describe(full) for rel, full in walk(root).items()}


def merged(layers):
    state = {}
    for layer in layers:
        entries = walk(layer)
        # opaque directories first, then whiteouts, then the layer's own entries
        for rel in sorted(entries):
            if os.path.basename(rel) == OPQ:
                parent = os.path.dirname(rel)
                for k in [k for k in state if parent == "" or k.startswith(parent + "/")]:
                    del state[k]
        for rel in sorted(entries):
            base = os.path.basename(rel)
            if base.startswith(WH) and base != OPQ and not base.startswith(WH + WH):
                victim = os.path.join(os.path.dirname(rel), base[len(WH):])
                for k in [k for k in state if k == victim or k.startswith(victim + "/")]:
                    del state[k]
        for rel in sorted(entries):
            if os.path.basename(rel).startswith(WH):
                continue
            d = describe(entries[rel])
            old = state.get(rel)
            if old and old["type"] == stat.S_IFDIR and d["type"] != stat.S_IFDIR:
                for k in [k for k in state if k.startswith(rel + "/")]:
                    del state[k]
            state[rel] = d
    return state


def compare(a, b, an, bn):
    bad = 0
    for k in sorted(set(a) | set(b)):
        if k not in a:
            print(f"only in {bn}: {k}")
        elif k not in b:
            print(f"only in {an}: {k}")
        elif a[k] != b[k]:
            print(f"differs: {k}: {an} {a[k]} {bn} {b[k]}")
        else:
            continue
        bad += 1
    return bad


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "same":
        bad = compare(tree(sys.argv[2]), tree(sys.argv[3]), sys.argv[2], sys.argv[3])
    elif len(sys.argv) >= 3 and sys.argv[1] == "merged":
        bad = compare(tree(sys.argv[2]), merged(sys.argv[3:]), "rootfs", "layers")
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
