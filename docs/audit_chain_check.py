#!/usr/bin/env python3
"""An independent check of a kycreview audit export (docs/audit-chain.md).

Written from the specification only, with Python's standard library, to show
the chain can be re-implemented outside Go. It recomputes every row's hash
and checks each session's rows against the head its session line records.
Signatures are not checked here (Python's standard library has no Ed25519);
use `kycreview audit verify --file` or any Ed25519 library on the message
described in the document.

    python3 docs/audit_chain_check.py export.jsonl
"""
import hashlib
import json
import struct
import sys


def string(s):
    b = s.encode("utf-8")
    return struct.pack(">I", len(b)) + b


def optional(s):
    return b"\x00" if s is None else b"\x01" + string(s)


def strings(l):
    return struct.pack(">I", len(l)) + b"".join(string(s) for s in l)


def encode(row):
    return b"".join([
        string("kycreview.activity.v1"),
        string(row["session_id"]),
        struct.pack(">q", row["seq"]),
        string(row["uuid"]),
        string(row["activity_type"]),
        string(row["actor_type"]),
        optional(row["actor_id"]),
        string(row["actor_display"]),
        optional(row["actor_email"]),
        optional(row["previous_status"]),
        optional(row["new_status"]),
        optional(row["comment"]),
        strings(row["mentioned_emails"]),
        optional(row["previous_value"]),
        optional(row["new_value"]),
        strings(row["changed_fields"]),
        optional(row["metadata"]),
        struct.pack(">q", row["created_at_us"]),
    ])


def chain_hash(prev, row):
    return hashlib.sha256(prev + encode(row)).digest()


def main(path):
    broken = 0
    session, prev, seq = None, None, 0

    def finish():
        nonlocal broken
        if session is not None and (session["seq"] != seq or (seq and session["head_hash"] != prev.hex())):
            print(f"{session['session_id']} seq {seq + 1}: the session's head disagrees with its rows")
            broken += 1

    with open(path) as f:
        for line in f:
            obj = json.loads(line)
            if obj["type"] == "session":
                finish()
                session, prev, seq, bad = obj, bytes(32), 0, False
            elif obj["type"] == "activity" and not bad:
                want = seq + 1
                if obj["seq"] != want or obj["hash"] != chain_hash(prev, obj).hex():
                    print(f"{obj['session_id']} seq {want}: broken")
                    broken, bad, session = broken + 1, True, None
                    continue
                prev, seq = bytes.fromhex(obj["hash"]), want
    finish()
    print("broken chains:", broken)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
