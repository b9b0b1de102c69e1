#!/usr/bin/env python3
"""Builds assets/catalog-snapshot.jsonl.zst, the catalog compiled into hubdex.

Usage: make_snapshot.py SNAPSHOT_MERGED_JSONL_ZST OUTPUT_JSONL_ZST

Input is the project's shared `data/catalog/snapshot-merged.jsonl.zst`. Records whose only
source is `hf-trending-index-2025` are dropped (that source states no licence), and so is any
description taken from it. Provenance fields (`_*`, `x_*`) are dropped; what remains uses the
Hub's field names. Needs the `zstd` command.
"""
import json
import subprocess
import sys

KEEP = ("id", "author", "downloads", "likes", "lastModified", "createdAt", "tags", "description", "cardData")


def main(src, dst):
    raw = subprocess.run(["zstd", "-dc", src], check=True, capture_output=True).stdout
    out, kept, dropped = [], 0, 0
    for line in raw.decode("utf-8").splitlines():
        rec = json.loads(line)
        sources = rec.get("_sources", [])
        if sources == ["hf-trending-index-2025"]:
            dropped += 1
            continue
        if rec.get("_description_first_line_only"):
            rec.pop("description", None)
        out.append(json.dumps({k: rec[k] for k in KEEP if k in rec}, ensure_ascii=False, sort_keys=False))
        kept += 1
    data = ("\n".join(out) + "\n").encode("utf-8")
    subprocess.run(["zstd", "-19", "-q", "-f", "-o", dst], input=data, check=True)
    print(f"kept {kept}, dropped {dropped} trending-only records", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
