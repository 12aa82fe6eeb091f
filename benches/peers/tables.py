"""Reads the peers' (and laketide's) output tables back, with the venv's deltalake / pyarrow.

usage:
  tables.py count [--format delta|parquet] DIR [TABLE ...]
      prints {"pin": rows, "geo": rows, "user": rows} (a table that is absent: null)
  tables.py check [--format delta|parquet] RAW_DIR DIR
      tests/tools/check_pinterest_tables.py's full comparison against the cleaning contract
      (rows, columns, types); with --format parquet it reads DIR/<table> as a Parquet dataset
      (Spark's output) instead of a Delta table.
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "tools"))

import pyarrow.dataset as ds  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402


def count(fmt, path):
    if not os.path.isdir(path):
        return None
    if fmt == "delta":
        from deltalake import DeltaTable
        return DeltaTable(path).to_pyarrow_dataset().count_rows()
    return ds.dataset(path, format="parquet").count_rows()


class ParquetTable:
    """Stands in for deltalake.DeltaTable in the checker: a directory of Parquet files."""

    def __init__(self, path):
        if not os.path.isdir(path):
            raise FileNotFoundError(path)
        self.path = path

    def to_pyarrow_table(self):
        return pq.read_table(self.path)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["count", "check"])
    parser.add_argument("--format", choices=["delta", "parquet"], default="delta")
    parser.add_argument("paths", nargs="+")
    args = parser.parse_args()
    if args.command == "count":
        names = args.paths[1:] or ["pin", "geo", "user"]
        out = {name: count(args.format, os.path.join(args.paths[0], name)) for name in names}
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()
        os._exit(0)
    import check_pinterest_tables as checker
    if args.format == "parquet":
        checker.DeltaTable = ParquetTable
    checker.main(args.paths[0], args.paths[1])  # exits with os._exit


if __name__ == "__main__":
    main()
