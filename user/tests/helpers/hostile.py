#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Write the hostile-layer corpus: one tar per attack, and cases.tsv saying
what each must produce.

  hostile.py OUTDIR [OUTSIDE]

OUTSIDE is an absolute directory outside the unpack root that the escape
cases aim at.  cases.tsv columns: name, file, compression, extra tool
arguments, expected exit code (6 unsafe, 5 verify, 0 ok), expected text.
"""
import gzip
import io
import os
import sys
import tarfile

UNSAFE, VERIFY, OK = 6, 5, 0


def ti(name, kind=tarfile.REGTYPE, size=0, **kw):
    t = tarfile.TarInfo(name)
    t.type = kind
    t.size = size
    t.mode = kw.pop("mode", 0o644 if kind != tarfile.DIRTYPE else 0o755)
    t.mtime = 1700000000
    for k, v in kw.items():
        setattr(t, k, v)
    return t


def build(entries, fmt=tarfile.PAX_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for t, data in entries:
            tf.addfile(t, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def f(name, data=b"x", **kw):
    return (ti(name, size=len(data), **kw), data)


def d(name, **kw):
    return (ti(name, tarfile.DIRTYPE, **kw), None)


def sym(name, target):
    return (ti(name, tarfile.SYMTYPE, linkname=target, mode=0o777), None)


def hard(name, target):
    return (ti(name, tarfile.LNKTYPE, linkname=target), None)


def main():
    out = sys.argv[1]
    outside = sys.argv[2] if len(sys.argv) > 2 else "/tmp/layerfs-outside"
    os.makedirs(out, exist_ok=True)
    cases = []

    def case(name, data, code, text, comp="none", extra="-"):
        fn = name + (".tar.gz" if comp == "gzip" else ".tar")
        with open(os.path.join(out, fn), "wb") as fh:
            fh.write(data)
        cases.append((name, fn, comp, extra, str(code), text))

    case("absolute_path", build([f("/etc/evil")]), UNSAFE, 'entry "/etc/evil": absolute path')
    case("dotdot", build([f("a/../../evil")]), UNSAFE, 'entry "a/../../evil": path contains ".."')
    case("dotdot_only", build([f("..")]), UNSAFE, 'path contains ".."')
    case("symlink_escape_absolute", build([sym("esc", outside), f("esc/evil")]), UNSAFE,
         'entry "esc/evil": path goes through a symlink')
    case("symlink_escape_relative", build([sym("esc", "../../../../../../" + outside), f("esc/evil")]),
         UNSAFE, 'entry "esc/evil": path goes through a symlink')
    case("symlink_chain", build([d("a"), sym("a/b", "/"), sym("c", "a/b"), f("c/evil")]), UNSAFE,
         'entry "c/evil": path goes through a symlink')
    case("hardlink_outside", build([hard("h", outside + "/target")]), UNSAFE,
         'entry "h": hardlink target "' + outside + '/target": absolute path')
    case("hardlink_dotdot", build([hard("h", "../target")]), UNSAFE, 'hardlink target "../target"')
    case("hardlink_later_entry", build([hard("h", "later"), f("later")]), UNSAFE,
         'entry "h": hardlink target "later" is not an earlier entry')
    case("hardlink_through_symlink", build([sym("s", outside), hard("h", "s/target")]), UNSAFE,
         'hardlink target "s/target" is not an earlier entry')
    case("hardlink_to_directory", build([d("dir"), hard("h", "dir")]), UNSAFE,
         'entry "h": hardlink to directory')
    case("duplicate_file", build([f("a"), f("a", b"second")]), UNSAFE, 'entry "a": duplicate entry')
    case("duplicate_dir", build([d("x"), d("x/")]), UNSAFE, 'entry "x/": duplicate entry')
    case("file_over_implicit_dir", build([f("p/q"), f("p")]), UNSAFE,
         'entry "p": conflicts with an earlier entry')
    case("char_device", build([(ti("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3), None)]),
         UNSAFE, 'entry "dev/null": device node not allowed (char 1:3)')
    case("block_device", build([(ti("sda", tarfile.BLKTYPE, devmajor=8, devminor=0), None)]),
         UNSAFE, 'entry "sda": device node not allowed (block 8:0)')
    case("long_component", build([f("a/" + "n" * 300)], tarfile.PAX_FORMAT), UNSAFE,
         "path component longer than 255 bytes")
    case("long_path_gnu", build([f("/".join(["d" * 200] * 25))], tarfile.GNU_FORMAT), UNSAFE,
         "path longer than 4095 bytes")
    case("oversize_entry", build([f("big", b"\0" * 4096)]), UNSAFE,
         'entry "big": size 4096 over the 1024 byte limit', extra="--max-entry-size=1024")
    case("trusted_xattr", build([(ti("x", size=1, pax_headers={
        "SCHILY.xattr.trusted.overlay.opaque": "y"}), b"1")]), UNSAFE,
         'entry "x": xattr "trusted.overlay.opaque" is not allowed')
    case("whiteout_directory", build([d(".wh.victim")]), UNSAFE,
         'entry ".wh.victim/": whiteout is not a regular file')
    case("whiteout_symlink", build([sym("a/.wh.b", "/etc")]), UNSAFE, "whiteout is not a regular file")
    case("root_is_file", build([f(".")]), UNSAFE, "layer root is not a directory")
    case("too_many_entries", build([f("e%d" % i) for i in range(20)]), UNSAFE, "more than 10 entries",
         extra="--max-entries=10")
    # a header claiming a huge size, with no data behind it
    hdr = ti("huge", size=1 << 40).tobuf(tarfile.GNU_FORMAT)
    case("huge_declared_size", hdr + b"\0" * 1024, UNSAFE, 'entry "huge": size 1099511627776 over')
    case("truncated_tar", build([f("a", b"y" * 5000)])[:3000], VERIFY, 'entry "a": corrupt tar data')
    bomb = build([f("zeros", b"\0" * (24 << 20))])
    case("gzip_bomb", gzip.compress(bomb, 9), UNSAFE, "decompression bomb", comp="gzip",
         extra="--max-ratio=50,--ratio-floor=1048576")
    case("layer_size_limit", gzip.compress(bomb, 1), UNSAFE, "uncompressed layer exceeds 4194304 bytes",
         comp="gzip", extra="--max-layer-size=4194304")
    case("garbage_gzip", b"\x1f\x8b\x08\x00" + b"\xff" * 100, VERIFY, "corrupt gzip data", comp="gzip")
    # the benign neighbours of the cases above: must unpack
    case("benign_symlinks_and_links",
         build([d("etc"), f("etc/passwd", b"root:x:0:0"), sym("etc/abs", "/etc/passwd"),
                sym("rel", "etc/../etc/passwd"), hard("etc/link", "etc/passwd"),
                f("a/.wh.b", b""), f("c/.wh..wh..opq", b""),
                (ti("fifo", tarfile.FIFOTYPE), None)]), OK, "")
    with open(os.path.join(out, "cases.tsv"), "w") as fh:
        for c in cases:
            fh.write("\t".join(c) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
