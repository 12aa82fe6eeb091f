"""Peer (a): the plain Python consumer loop that Quix Streams / Faust users write.

Reads pin.jsonl, geo.jsonl and user.jsonl line by line, json.loads each record, cleans it in
Python (the rules of tests/tools/check_pinterest_tables.py, the project's independent reading of
spec/cleaning.md), accumulates rows, and every 100,000 rows of a table builds a pyarrow Table
with the exact output schema and appends it with deltalake's write_deltalake; a final flush at
the end. A record that cannot be cleaned (bad JSON, not an object, missing index, bad value) is
counted as rejected and skipped.

usage: python_loop.py --input DIR --output DIR     (prints one JSON object on stdout)
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "tools"))

import measure  # noqa: E402

measure.start_json_stdout()

import pyarrow as pa  # noqa: E402
from deltalake import write_deltalake  # noqa: E402

from check_pinterest_tables import SCHEMAS, clean_geo, clean_pin, clean_user  # noqa: E402

TABLES = (("pin", clean_pin), ("geo", clean_geo), ("user", clean_user))
FLUSH_ROWS = 100_000


class Sink:
    """Rows of one table, appended to its Delta table every FLUSH_ROWS rows."""

    def __init__(self, path, schema):
        self.path = path
        self.schema = pa.schema(schema)
        self.rows = []
        self.written = 0
        self.rejected = 0  # rows that cleaned but do not fit the schema (e.g. int32 overflow)

    def add(self, row):
        self.rows.append(row)
        if len(self.rows) >= FLUSH_ROWS:
            self.flush()

    def _table(self, rows):
        columns = list(zip(*rows))
        return pa.Table.from_arrays(
            [pa.array(col, type=field.type) for col, field in zip(columns, self.schema)],
            schema=self.schema)

    def flush(self):
        if not self.rows:
            return
        try:
            table = self._table(self.rows)
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            # Rare: find the rows that do not convert, keep the rest.
            good = []
            for row in self.rows:
                try:
                    self._table([row])
                    good.append(row)
                except (pa.ArrowException, TypeError, ValueError, OverflowError):
                    self.rejected += 1
            table = self._table(good) if good else None
        self.rows = []
        if table is not None and table.num_rows:
            write_deltalake(self.path, table, mode="append")
            self.written += table.num_rows


def run(input_dir, output_dir):
    rows = rejected = 0
    tables = {}
    for name, clean in TABLES:
        sink = Sink(os.path.join(output_dir, name), SCHEMAS[name])
        bad = 0
        with open(os.path.join(input_dir, f"{name}.jsonl"), "rb") as f:
            for line in f:
                if not line.strip():
                    continue  # blank lines are not records (laketide skips them too)
                try:
                    row = clean(json.loads(line))
                except Exception:  # noqa: BLE001 - any failure to clean is a rejected record
                    bad += 1
                    continue
                sink.add(row)
        sink.flush()
        bad += sink.rejected
        tables[name] = sink.written
        rows += sink.written
        rejected += bad
    return rows, rejected, tables


def main():
    args = measure.arguments(__doc__, [name for name, _ in TABLES], "tables go to OUTPUT/pin, /geo, /user")
    rows, rejected, tables = run(args.input, args.output)
    measure.emit(measure.whole_process("python_loop", rows + rejected, rows, tables=tables))
    measure.exit_now(0)


if __name__ == "__main__":
    main()
