"""Peer (c): Apache Spark, local[1], doing the original pipeline's cleaning job.

The original project cleaned pin/geo/user with Spark DataFrame functions (replace the
placeholders with null, turn follower_count "Nk"/"NM" into a number, strip "Local save in ",
rename index to ind, array(latitude, longitude) as coordinates, to_timestamp, concat the user
name, select the columns in order). This peer does the same with Spark's built-in functions
(no Python UDFs), with the arithmetic of spec/cleaning.md (so "1.5k" is 1500, and a value that
cannot be read rejects the row rather than turning into null), and writes Parquet (there are no
Delta jars offline, so: Parquet files, no Delta log) under OUTPUT/pin, /geo, /user.

Every raw column is read as a string (a JSON number's text becomes the string), so numbers sent
as numbers or as numeric strings are both accepted. Lines that are not JSON land in Spark's
_corrupt_record column and are rejected. Records and rejected rows are counted during the write
itself with DataFrame.observe (no second pass over the input).

It is measured twice in one process, and prints ONE LINE holding a JSON LIST of two objects:
  [{"peer": "spark_oneshot", ...}, {"peer": "spark_warm", ...}]
- spark_oneshot: the whole process up to the end of the first job: Python start-up, imports, the
  JVM start (spark-submit and its launcher included) and the job; CPU of the Python driver plus
  the JVM. Output: OUTPUT/pin, /geo, /user.
- spark_warm: the same job again in the same SparkSession, into OUTPUT/warm/pin, /geo, /user;
  CPU and wall are the differences around that second job only. Its peak_rss_bytes is the
  process tree's high-water mark at its end (it includes the first job's peak).

usage: spark_peer.py --input DIR --output DIR
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "tools"))

import measure  # noqa: E402

measure.start_json_stdout()

from pyspark.sql import Observation, SparkSession  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402
from pyspark.sql.types import StringType, StructField, StructType  # noqa: E402

from pinterest_contract import PLACEHOLDERS, RAW_COLUMNS, SAVE_LOCATION_PREFIX  # noqa: E402

CORRUPT = "_corrupt_record"
PIN_TEXT = ["unique_id", "title", "description", "poster_name", "follower_count", "tag_list",
            "is_image_or_video", "image_src", "save_location", "category"]
TS_FORMAT = "yyyy-MM-dd HH:mm:ss[.SSSSSS]"


def raw_schema(name):
    return StructType([StructField(c, StringType()) for c in RAW_COLUMNS[name]]
                      + [StructField(CORRUPT, StringType())])


def int32(c):
    """A 32-bit int, or null when the text is not one (try_cast: Spark 4 runs in ANSI mode)."""
    return F.trim(F.col(c)).try_cast("int")


def timestamp(c):
    """"yyyy-MM-dd HH:mm:ss[.ffffff]", with a space or a T; the session time zone is UTC."""
    return F.try_to_timestamp(F.translate(F.col(c), "T", " "), F.lit(TS_FORMAT))


def followers(c):
    """digits -> n, "Nk" -> N*1000, "NM" -> N*1000000 (decimals rounded half up), else null."""
    fc = F.col(c)
    last = F.substring(fc, -1, 1)
    mult = F.when(last == "k", F.lit(1000)).when(last == "M", F.lit(1000000)).otherwise(F.lit(1))
    body = F.when(mult > 1, F.expr(f"substring({c}, 1, length({c}) - 1)")).otherwise(fc)
    valid = F.when(mult > 1, body.rlike(r"^\d+(\.\d+)?$")).otherwise(body.rlike(r"^\d+$"))
    return F.when(valid, F.floor(body.cast("double") * mult + 0.5).try_cast("int"))


def not_null_unless(raw, value):
    """The raw column is null, or its converted value is not (the conversion worked)."""
    return F.col(raw).isNull() | value.isNotNull()


def cleaned(name, raw):
    """(rows with an _ok column, the output columns) for one raw table."""
    if name == "pin":
        df = raw
        for c in PIN_TEXT:  # the original: df.replace({placeholder: None, ...}) on the string columns
            df = df.withColumn(c, F.when(F.col(c).isin(list(PLACEHOLDERS)), F.lit(None)).otherwise(F.col(c)))
        df = (df.withColumn("_fc", followers("follower_count"))
              .withColumn("save_location", F.regexp_replace("save_location", "^" + SAVE_LOCATION_PREFIX, ""))
              .withColumn("_ind", int32("index")))
        ok = F.col("_ind").isNotNull() & not_null_unless("follower_count", F.col("_fc"))
        out = [F.col("_ind").alias("ind"), "unique_id", "title", "description",
               F.col("_fc").alias("follower_count"), "poster_name", "tag_list", "is_image_or_video",
               "image_src", "save_location", "category"]
    elif name == "geo":
        df = (raw.withColumn("_ind", int32("ind"))
              .withColumn("_lat", F.trim("latitude").try_cast("double"))
              .withColumn("_lon", F.trim("longitude").try_cast("double"))
              .withColumn("_ts", timestamp("timestamp")))
        ok = (F.col("_ind").isNotNull() & not_null_unless("latitude", F.col("_lat"))
              & not_null_unless("longitude", F.col("_lon")) & not_null_unless("timestamp", F.col("_ts")))
        out = [F.col("_ind").alias("ind"), "country", F.array("_lat", "_lon").alias("coordinates"),
               F.col("_ts").alias("timestamp")]
    else:
        df = (raw.withColumn("_ind", int32("ind")).withColumn("_age", int32("age"))
              .withColumn("_joined", timestamp("date_joined")))
        ok = (F.col("_ind").isNotNull() & not_null_unless("age", F.col("_age"))
              & not_null_unless("date_joined", F.col("_joined")))
        out = [F.col("_ind").alias("ind"),
               F.concat(F.col("first_name"), F.lit(" "), F.col("last_name")).alias("user_name"),
               F.col("_age").alias("age"), F.col("_joined").alias("date_joined")]
    return df.withColumn("_ok", F.col(CORRUPT).isNull() & F.coalesce(ok, F.lit(False))), out


def job(spark, input_dir, output_dir):
    """Cleans the three tables into output_dir; returns (records, rows, {table: rows})."""
    records = rows = 0
    tables = {}
    for name in ("pin", "geo", "user"):
        raw = (spark.read.schema(raw_schema(name))
               .option("mode", "PERMISSIVE").option("columnNameOfCorruptRecord", CORRUPT)
               .json(os.path.join(input_dir, f"{name}.jsonl")))
        df, out = cleaned(name, raw)
        seen = Observation(f"{name}_counts")
        df = df.observe(seen, F.count(F.lit(1)).alias("records"),
                        F.sum(F.when(F.col("_ok"), 1).otherwise(0)).alias("rows"))
        df.filter(F.col("_ok")).select(*out).write.mode("errorifexists").parquet(os.path.join(output_dir, name))
        counts = seen.get
        records += counts["records"]
        rows += counts["rows"] or 0
        tables[name] = counts["rows"] or 0
    return records, rows, tables


def main():
    args = measure.arguments(
        __doc__, [*RAW_COLUMNS, *(os.path.join("warm", name) for name in RAW_COLUMNS)],
        "tables go to OUTPUT/pin, /geo, /user (+ OUTPUT/warm/...)",
        extra=lambda parser: parser.add_argument(
            "--driver-memory", default="1g", help="spark.driver.memory (default: Spark's 1g)"))

    spark = (SparkSession.builder.master("local[1]").appName("laketide-peer-spark")
             .config("spark.driver.memory", args.driver_memory)
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.session.timeZone", "UTC")
             .config("spark.sql.shuffle.partitions", "1")
             .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")

    records, rows, tables = job(spark, args.input, args.output)
    first = measure.sample()
    oneshot = measure.whole_process("spark_oneshot", records, rows, first, tables=tables,
                                    spark_version=spark.version, output_format="parquet")

    before = measure.sample()
    records2, rows2, tables2 = job(spark, args.input, os.path.join(args.output, "warm"))
    after = measure.sample()
    warm = measure.result("spark_warm", records2, rows2, after["cpu_seconds"] - before["cpu_seconds"],
                          after["at"] - before["at"], after["peak_rss_bytes"], processes=len(after["pids"]),
                          tables=tables2, spark_version=spark.version, output_format="parquet",
                          output="warm")
    spark.stop()
    measure.emit([oneshot, warm])
    measure.exit_now(0)


if __name__ == "__main__":
    main()
