"""Peer (b): polars + deltalake.

Reads each NDJSON file with polars (every raw column read as a string, so numbers that arrive as
JSON numbers or as numeric strings are both accepted, as the contract asks), cleans it with
vectorised polars expressions (no Python UDFs) following the rules of
tests/tools/check_pinterest_tables.py / spec/cleaning.md, and appends each table with
`DataFrame.write_delta(mode="append")` in the exact output schema (int32, list<double>,
timestamp[us, UTC]).

Rows that cannot be cleaned are counted and skipped: a required `index`/`ind` that is missing or
not a 32-bit integer, an age that is not one, a follower_count that is not digits / <N>k / <N>M,
a latitude/longitude that is not a number, a datetime that does not parse. polars rejects a
whole file that holds one line of bad JSON; the peer then falls back to reading it line by line
in Python to drop (and count) the lines that are not JSON objects, and parses the rest with polars.

usage: polars_peer.py --input DIR --output DIR     (prints one JSON object on stdout)
"""
import io
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "tools"))

import measure  # noqa: E402

measure.start_json_stdout()

import polars as pl  # noqa: E402

from pinterest_contract import PLACEHOLDERS, RAW_COLUMNS, SAVE_LOCATION_PREFIX  # noqa: E402

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
PIN_TEXT = ["unique_id", "title", "description", "poster_name", "tag_list", "is_image_or_video",
            "image_src", "category"]


def raw_schema(name):
    return pl.Schema({c: pl.String for c in RAW_COLUMNS[name]})


# --- expressions --------------------------------------------------------------------------------

def text(c):
    """A pin string column with the placeholders and "" turned into null."""
    return pl.when(pl.col(c).is_in(list(PLACEHOLDERS))).then(None).otherwise(pl.col(c)).alias(c)


def int64(c):
    return pl.col(c).str.strip_chars().cast(pl.Int64, strict=False)


def int32_ok(value, c=None):
    """The value is a 32-bit integer (or, with `c`, the raw column `c` is null)."""
    ok = value.is_between(INT32_MIN, INT32_MAX).fill_null(False)
    return ok if c is None else pl.col(c).is_null() | ok


def followers(fc):
    """digits -> n, "<N>k" -> N*1000, "<N>M" -> N*1000000 (N may have decimals, rounded half up);
    null when `fc` (placeholders already null) is none of those."""
    last = fc.str.slice(-1)
    mult = pl.when(last == "k").then(1_000).when(last == "M").then(1_000_000).otherwise(1)
    body = pl.when(mult > 1).then(fc.str.slice(0, fc.str.len_chars() - 1)).otherwise(fc)
    valid = pl.when(mult > 1).then(body.str.contains(r"^\d+(\.\d+)?$")).otherwise(body.str.contains(r"^\d+$"))
    return pl.when(valid).then((body.cast(pl.Float64, strict=False) * mult + 0.5).floor().cast(pl.Int64))


def timestamp(c):
    """"YYYY-MM-DD HH:MM:SS[.f]" or the same with T; no zone: UTC."""
    return (pl.col(c).str.strip_chars().str.replace("T", " ", literal=True)
            .str.to_datetime("%Y-%m-%d %H:%M:%S%.f", strict=False, time_unit="us")
            .dt.replace_time_zone("UTC"))


def number(c):
    return pl.col(c).str.strip_chars().cast(pl.Float64, strict=False)


def clean(name, lf):
    """The cleaned rows of one raw table (the rows that cannot be cleaned filtered out)."""
    if name == "pin":
        return (lf.with_columns([text(c) for c in PIN_TEXT + ["follower_count", "save_location"]],
                                _ind=int64("index"))
                .with_columns(_fc=followers(pl.col("follower_count")))
                .filter(int32_ok(pl.col("_ind")), int32_ok(pl.col("_fc"), "follower_count"))
                .select(pl.col("_ind").cast(pl.Int32).alias("ind"), "unique_id", "title", "description",
                        pl.col("_fc").cast(pl.Int32).alias("follower_count"), "poster_name", "tag_list",
                        "is_image_or_video", "image_src",
                        pl.col("save_location").str.strip_prefix(SAVE_LOCATION_PREFIX), "category"))
    if name == "geo":
        return (lf.with_columns(_ind=int64("ind"), _lat=number("latitude"), _lon=number("longitude"),
                                _ts=timestamp("timestamp"))
                .filter(int32_ok(pl.col("_ind")),
                        pl.col("latitude").is_null() | pl.col("_lat").is_not_null(),
                        pl.col("longitude").is_null() | pl.col("_lon").is_not_null(),
                        pl.col("timestamp").is_null() | pl.col("_ts").is_not_null())
                .select(pl.col("_ind").cast(pl.Int32).alias("ind"), "country",
                        pl.concat_list("_lat", "_lon").alias("coordinates"), pl.col("_ts").alias("timestamp")))
    return (lf.with_columns(_ind=int64("ind"), _age=int64("age"), _joined=timestamp("date_joined"))
            .filter(int32_ok(pl.col("_ind")), int32_ok(pl.col("_age"), "age"),
                    pl.col("date_joined").is_null() | pl.col("_joined").is_not_null())
            .select(pl.col("_ind").cast(pl.Int32).alias("ind"),
                    pl.concat_str([pl.col("first_name"), pl.lit(" "), pl.col("last_name")]).alias("user_name"),
                    pl.col("_age").cast(pl.Int32).alias("age"), pl.col("_joined").alias("date_joined")))


# --- reading --------------------------------------------------------------------------------------

def read(name, path):
    """(raw DataFrame, lines rejected before polars could parse them)."""
    try:
        return pl.read_ndjson(path, schema=raw_schema(name)), 0
    except Exception as error:  # noqa: BLE001 - polars' error for one bad line anywhere in the file
        print(f"polars_peer: {name}: polars could not read the file whole ({str(error)[:200]}); "
              "dropping the lines that are not JSON objects", file=sys.stderr)
    good, bad = [], 0
    columns = RAW_COLUMNS[name]
    with open(path, "rb") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if isinstance(record, list) and len(record) == 1:
                    record = record[0]  # producers that wrap the record in a one-element list
                if not isinstance(record, dict) or any(isinstance(record.get(c), (dict, list)) for c in columns):
                    raise ValueError("not a flat JSON object")
            except ValueError:
                bad += 1
                continue
            good.append(json.dumps(record).encode())
    if not good:
        return pl.DataFrame(schema=raw_schema(name)), bad
    return pl.read_ndjson(io.BytesIO(b"\n".join(good)), schema=raw_schema(name)), bad


def run(input_dir, output_dir):
    rows = rejected = 0
    tables = {}
    for name in ("pin", "geo", "user"):
        raw, bad = read(name, os.path.join(input_dir, f"{name}.jsonl"))
        cleaned = clean(name, raw.lazy()).collect()
        cleaned.write_delta(os.path.join(output_dir, name), mode="append")
        tables[name] = cleaned.height
        rows += cleaned.height
        rejected += bad + raw.height - cleaned.height
        del raw, cleaned
    return rows, rejected, tables


def main():
    args = measure.arguments(__doc__, RAW_COLUMNS, "tables go to OUTPUT/pin, /geo, /user")
    rows, rejected, tables = run(args.input, args.output)
    measure.emit(measure.whole_process("polars", rows + rejected, rows, tables=tables,
                                       polars_version=pl.__version__, threads=pl.thread_pool_size()))
    measure.exit_now(0)


if __name__ == "__main__":
    main()
