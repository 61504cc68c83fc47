#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Build OCI image layouts by hand, for cases umoci will not make.

  mkoci.py image LAYOUT TAG [--compress gzip|zstd|none] [--arch A] [--variant V]
                            [--bad-diffid] TAR...
      an image whose layers are the given tar files, as they are
  mkoci.py index LAYOUT TAG [--attestation] SRC_TAG:OS/ARCH[/VARIANT]...
      an image index over images already in LAYOUT
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys

MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER_TYPES = {
    "none": "application/vnd.oci.image.layer.v1.tar",
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
}
REF_NAME = "org.opencontainers.image.ref.name"


def put_blob(layout, data):
    digest = hashlib.sha256(data).hexdigest()
    d = os.path.join(layout, "blobs", "sha256")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, digest), "wb") as f:
        f.write(data)
    return {"digest": "sha256:" + digest, "size": len(data)}


def load_index(layout):
    os.makedirs(layout, exist_ok=True)
    p = os.path.join(layout, "oci-layout")
    if not os.path.exists(p):
        with open(p, "w") as f:
            json.dump({"imageLayoutVersion": "1.0.0"}, f)
    p = os.path.join(layout, "index.json")
    if os.path.exists(p):
        with open(p) as f:
            return json.load(f)
    return {"schemaVersion": 2, "manifests": []}


def save_tag(layout, index, tag, desc):
    desc = dict(desc)
    desc["annotations"] = {REF_NAME: tag}
    index["manifests"] = [m for m in index["manifests"]
                          if m.get("annotations", {}).get(REF_NAME) != tag] + [desc]
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump(index, f)


def compress(data, how):
    if how == "gzip":
        return subprocess.run(["gzip", "-n", "-6", "-c"], input=data, stdout=subprocess.PIPE,
                              check=True).stdout
    if how == "zstd":
        return subprocess.run(["zstd", "-q", "-c"], input=data, stdout=subprocess.PIPE,
                              check=True).stdout
    return data


def cmd_image(a):
    index = load_index(a.layout)
    layers, diff_ids = [], []
    for t in a.tars:
        with open(t, "rb") as f:
            raw = f.read()
        diff = "sha256:" + hashlib.sha256(raw).hexdigest()
        if a.bad_diffid:
            diff = "sha256:" + hashlib.sha256(raw + b"x").hexdigest()
        diff_ids.append(diff)
        desc = put_blob(a.layout, compress(raw, a.compress))
        desc["mediaType"] = LAYER_TYPES[a.compress]
        layers.append(desc)
    config = {"architecture": a.arch, "os": "linux",
              "rootfs": {"type": "layers", "diff_ids": diff_ids}, "config": {}}
    if a.variant:
        config["variant"] = a.variant
    cdesc = put_blob(a.layout, json.dumps(config).encode())
    cdesc["mediaType"] = MT_CONFIG
    manifest = {"schemaVersion": 2, "mediaType": MT_MANIFEST, "config": cdesc, "layers": layers}
    mdesc = put_blob(a.layout, json.dumps(manifest).encode())
    mdesc["mediaType"] = MT_MANIFEST
    save_tag(a.layout, index, a.tag, mdesc)
    print(mdesc["digest"])


def cmd_index(a):
    index = load_index(a.layout)
    by_tag = {m.get("annotations", {}).get(REF_NAME): m for m in index["manifests"]}
    entries = []
    for spec in a.sources:
        tag, plat = spec.split(":", 1)
        parts = plat.split("/")
        m = dict(by_tag[tag])
        m.pop("annotations", None)
        m["platform"] = {"os": parts[0], "architecture": parts[1]}
        if len(parts) > 2:
            m["platform"]["variant"] = parts[2]
        entries.append(m)
    if a.attestation:
        att = dict(entries[0])
        att["platform"] = {"os": "unknown", "architecture": "unknown"}
        att["annotations"] = {"vnd.docker.reference.type": "attestation-manifest"}
        entries.insert(0, att)
    body = {"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": entries}
    idesc = put_blob(a.layout, json.dumps(body).encode())
    idesc["mediaType"] = MT_INDEX
    save_tag(a.layout, index, a.tag, idesc)
    print(idesc["digest"])


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    i = sub.add_parser("image")
    i.add_argument("layout")
    i.add_argument("tag")
    i.add_argument("--compress", default="gzip", choices=sorted(LAYER_TYPES))
    i.add_argument("--arch", default="amd64")
    i.add_argument("--variant", default="")
    i.add_argument("--bad-diffid", action="store_true")
    i.add_argument("tars", nargs="+")
    x = sub.add_parser("index")
    x.add_argument("layout")
    x.add_argument("tag")
    x.add_argument("--attestation", action="store_true")
    x.add_argument("sources", nargs="+")
    a = p.parse_args()
    (cmd_image if a.cmd == "image" else cmd_index)(a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
