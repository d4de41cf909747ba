"""What a POP3 client stored, compared with what the server held: used by
ci/clients-reference.sh to check the client drivers against the reference
server (the client suite's own comparison lives in `pop3spec client`).

    python3 ci/clients/stored.py OUT_DIR SEED_DIR

OUT_DIR holds what the client wrote: a Maildir (new/ cur/: mpop, getmail6)
or one file per message (the other drivers; none of them writes mbox). SEED_DIR
holds the messages the maildrop was seeded with, one file each. Line endings
are compared as LF, and the trace fields a delivering client prepends
(Return-Path:, Received:, Delivered-To:, RFC 5321 §4.4) are dropped. Exits 1,
naming what differs, unless both hold the same messages (in any order).
"""
import os
import re
import sys

TRACE = re.compile(rb"(?i)^(return-path|received|delivered-to):")


def messages(out):
    maildir = [os.path.join(out, d) for d in ("new", "cur") if os.path.isdir(os.path.join(out, d))]
    if maildir:
        return [read(os.path.join(d, f)) for d in maildir for f in sorted(os.listdir(d))]
    return [read(os.path.join(out, f)) for f in sorted(os.listdir(out))]


def read(path):
    with open(path, "rb") as f:
        return f.read().replace(b"\r\n", b"\n")


def untraced(message):
    lines = message.split(b"\n")
    while lines and TRACE.match(lines[0]):
        lines.pop(0)
        while lines and lines[0][:1] in (b" ", b"\t"):
            lines.pop(0)
    return b"\n".join(lines)


def main():
    out, seed = sys.argv[1], sys.argv[2]
    got = sorted(untraced(m) for m in messages(out))
    want = sorted(read(os.path.join(seed, f)) for f in sorted(os.listdir(seed)))
    if got == want:
        return 0
    for m in want:
        if m not in got:
            print(f"missing or altered: {m[:60]!r}...")
    for m in got:
        if m not in want:
            print(f"stored but not served as such: {m[:60]!r}...")
    print(f"{len(got)} stored, {len(want)} served")
    return 1


sys.exit(main())
