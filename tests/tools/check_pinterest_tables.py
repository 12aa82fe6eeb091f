"""Checks laketide's pin/geo/user Delta tables against an independent reading of the
cleaning contract (spec/cleaning.md), with Python's own Delta reader.

usage: check_pinterest_tables.py RAW_DIR LAKE_DIR
RAW_DIR holds pin.jsonl, geo.jsonl, user.jsonl (every line well-formed). Exits non-zero,
saying what differs, unless every table holds exactly the expected rows, columns and types.
"""
import datetime as dt
import json
import os
import sys
from collections import Counter

import pyarrow as pa
from deltalake import DeltaTable

from pinterest_contract import PLACEHOLDERS, SAVE_LOCATION_PREFIX

TS = pa.timestamp("us", tz="UTC")
SCHEMAS = {
    "pin": [("ind", pa.int32())] + [(c, pa.string()) for c in ("unique_id", "title", "description")]
    + [("follower_count", pa.int32())]
    + [(c, pa.string()) for c in ("poster_name", "tag_list", "is_image_or_video", "image_src", "save_location", "category")],
    "geo": [("ind", pa.int32()), ("country", pa.string()), ("coordinates", pa.list_(pa.float64())), ("timestamp", TS)],
    "user": [("ind", pa.int32()), ("user_name", pa.string()), ("age", pa.int32()), ("date_joined", TS)],
}


def text(v):
    if v is None:
        return None
    v = str(v)
    return None if v in PLACEHOLDERS else v


def followers(v):
    v = text(v)
    if v is None:
        return None
    if v.endswith("k"):
        return int(float(v[:-1]) * 1000)
    if v.endswith("M"):
        return int(float(v[:-1]) * 1_000_000)
    return int(v)


def timestamp(v):
    if v is None:
        return None
    return dt.datetime.fromisoformat(str(v).replace(" ", "T")).replace(tzinfo=dt.timezone.utc)


def clean_pin(r):
    save = text(r.get("save_location"))
    if save is not None and save.startswith(SAVE_LOCATION_PREFIX):
        save = save[len(SAVE_LOCATION_PREFIX):]
    return (int(r["index"]), text(r.get("unique_id")), text(r.get("title")), text(r.get("description")),
            followers(r.get("follower_count")), text(r.get("poster_name")), text(r.get("tag_list")),
            text(r.get("is_image_or_video")), text(r.get("image_src")), save, text(r.get("category")))


def clean_geo(r):
    num = lambda v: None if v is None else float(v)
    return (int(r["ind"]), r.get("country"), (num(r.get("latitude")), num(r.get("longitude"))), timestamp(r.get("timestamp")))


def clean_user(r):
    first, last = r.get("first_name"), r.get("last_name")
    name = None if first is None or last is None else f"{first} {last}"
    age = r.get("age")
    return (int(r["ind"]), name, None if age is None else int(age), timestamp(r.get("date_joined")))


def rows_of(table):
    out = []
    for row in table.to_pylist():
        values = []
        for v in row.values():
            values.append(tuple(v) if isinstance(v, list) else v)
        out.append(tuple(values))
    return out


def main(raw_dir, lake_dir):
    failures = []
    for name, clean in (("pin", clean_pin), ("geo", clean_geo), ("user", clean_user)):
        with open(os.path.join(raw_dir, f"{name}.jsonl"), encoding="utf-8") as f:
            expected = Counter(clean(json.loads(line)) for line in f if line.strip())
        table = DeltaTable(os.path.join(lake_dir, name)).to_pyarrow_table()
        columns = [(f.name, f.type) for f in table.schema]
        want = SCHEMAS[name]
        if [c for c, _ in columns[: len(want)]] != [c for c, _ in want]:
            failures.append(f"{name}: columns {[c for c, _ in columns]} != {[c for c, _ in want]}")
        for (col, got), (_, exp) in zip(columns, want):
            if got != exp:
                failures.append(f"{name}.{col}: type {got} != {exp}")
        actual = Counter(rows_of(table.select([c for c, _ in want])))
        if actual != expected:
            missing = list((expected - actual).items())[:3]
            extra = list((actual - expected).items())[:3]
            failures.append(f"{name}: {sum(actual.values())} rows vs {sum(expected.values())} expected; missing {missing}; unexpected {extra}")
        else:
            print(f"{name}: {sum(actual.values())} rows match the contract")
    if failures:
        print("\n".join(failures))
    sys.stdout.flush()
    # pyarrow sometimes aborts at interpreter exit after correct output; exit directly.
    os._exit(1 if failures else 0)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
