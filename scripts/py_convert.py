#!/usr/bin/env python3
"""Reference converter for the data bench: MovieLens ratings.csv -> RecBole .inter with the csv module.

A straightforward Python baseline (what a researcher would write): csv.reader, float()/int()
validation per field, csv.writer with a tab dialect. Prints one JSON line with rows, seconds
and peak RSS (MB).
Usage: python3 scripts/py_convert.py ratings.csv out.inter
"""
import csv
import json
import resource
import sys
import time


def main() -> int:
    src, dst = sys.argv[1], sys.argv[2]
    start = time.perf_counter()
    rows = 0
    with open(src, newline="", encoding="utf-8") as fin, open(dst, "w", newline="", encoding="utf-8") as fout:
        reader = csv.reader(fin)
        header = next(reader)
        cols = [header.index(c) for c in ("userId", "movieId", "rating", "timestamp")]
        writer = csv.writer(fout, delimiter="\t", lineterminator="\n")
        writer.writerow(["user_id:token", "item_id:token", "rating:float", "timestamp:float"])
        for line_no, rec in enumerate(reader, start=2):
            if len(rec) != len(header):
                print(f"py_convert: {src}:{line_no}: expected {len(header)} fields", file=sys.stderr)
                return 1
            user, item, rating, ts = (rec[i] for i in cols)
            int(user)
            int(item)
            float(rating)
            int(ts)
            writer.writerow((user, item, rating, ts))
            rows += 1
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rows": rows, "seconds": seconds, "peakMB": peak_mb}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
