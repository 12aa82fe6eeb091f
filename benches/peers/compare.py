#!/usr/bin/env python3
"""Runs laketide and its peers on the same input and reports them side by side.

    python3 benches/peers/compare.py --records 900000

1. benches/peers/setup.sh: the peers' virtualenv (cached), and which peers could be installed.
2. The input, once: `laketide emulate --to file WORK/input --count RECORDS/3 --seed 1`
   (or --input DIR: an existing pin/geo/user.jsonl directory).
3. laketide: `LAKETIDE bench --source file --input INPUT --json`, run in WORK/laketide with
   LAKETIDE_LAKE=WORK/laketide/lake. Its stdout must hold one JSON object (records, wall_seconds,
   cpu_seconds, records_per_sec, records_per_cpu_sec, peak_rss_bytes, p50_latency_ms,
   p99_latency_ms, optionally tables {name: rows} and lake); any may be missing. If the
   subcommand fails, its stderr is printed and, unless --no-run-fallback, laketide is measured
   instead as `laketide run topologies/pinterest-files.toml --until-idle` (CPU and peak RSS from
   the kernel's rusage of that one process), labelled "laketide run (fallback)".
4. Each peer with the venv's python: python_loop, polars, spark (see README.md); a peer whose
   setup failed is skipped, saying why. With --repeat K: K rounds of every contender once.
5. Checks every peer's output row counts per table against laketide's (its "tables" map, or its
   Delta tables read back), prints a Markdown table on stdout, and writes everything to --json.
"""
import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
TABLES = ("pin", "geo", "user")

# peer name -> (script, output format, name of its line in the setup status file)
PEERS = {
    "python_loop": ("python_loop.py", "delta", "python_loop"),
    "polars": ("polars_peer.py", "delta", "polars"),
    "spark": ("spark_peer.py", "parquet", "spark"),
}


WARNINGS = []


def log(message=""):
    print(message, file=sys.stderr, flush=True)


def warn(message):
    WARNINGS.append(message)
    log(f"WARNING: {message}")


def default_binary():
    target = os.environ.get("CARGO_TARGET_DIR")
    if target:
        return Path(target) / "release" / "laketide"
    cached = Path.home() / ".cache" / "laketide-target" / "release" / "laketide"
    if cached.exists() or not (REPO / "target" / "release" / "laketide").exists():
        return cached
    return REPO / "target" / "release" / "laketide"


def system_busy_seconds():
    """CPU-seconds the whole machine has spent busy since boot (/proc/stat: all but idle and iowait)."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def run_measured(cmd, logs, name, env=None, cwd=None):
    """Runs cmd with stdout and stderr in files; returns a dict with rc, stdout, stderr, wall
    and the kernel's rusage of the child (and of the descendants it waited for)."""
    out_path, err_path = logs / f"{name}.stdout", logs / f"{name}.stderr"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        busy = system_busy_seconds()
        start = time.monotonic()
        proc = subprocess.Popen([str(c) for c in cmd], stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                env=env, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - start
        busy = system_busy_seconds() - busy
        proc.returncode = os.waitstatus_to_exitcode(status)
    return {
        "rc": proc.returncode,
        "stdout": out_path.read_text(errors="replace"),
        "stderr": err_path.read_text(errors="replace"),
        "stderr_path": str(err_path),
        "wall_seconds": wall,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "maxrss_bytes": usage.ru_maxrss * 1024,
        "system_busy_seconds": busy,
    }


def note_background(result, run, own_cpu, quiet=False):
    """Records how much CPU the rest of the machine used while `run` ran, and warns when it is
    enough to disturb the figures (other processes compete for the same 2 cores and caches)."""
    background = max(0.0, run["system_busy_seconds"] - own_cpu)
    result["background_cpu_seconds"] = round(background, 2)
    if background > 0.5 + 0.1 * run["wall_seconds"] and not quiet:
        warn(f"{result.get('peer')}: other processes used {background:.1f} CPU-s during its "
             f"{run['wall_seconds']:.1f} s run: the machine was not idle; its figures may be off")


def parse_json_output(text):
    """The JSON document on stdout: the whole text, else the last line that parses."""
    text = text.strip()
    try:
        return json.loads(text)
    except ValueError:
        pass
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith(("{", "[")):
            try:
                return json.loads(line)
            except ValueError:
                continue
    return None


def tail(text, lines=20):
    return "\n".join(text.rstrip().splitlines()[-lines:])


def setup_venv(retry=False):
    """(venv python or None, {peer: status})."""
    log("== setup: benches/peers/setup.sh" + (" --retry" if retry else ""))
    proc = subprocess.run(["bash", str(HERE / "setup.sh")] + (["--retry"] if retry else []),
                          stdout=subprocess.PIPE, text=True)
    python = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    if proc.returncode != 0 or not python or not os.path.exists(python):
        return None, {p: f"setup.sh failed (exit {proc.returncode})" for p in PEERS}
    status = {}
    status_file = Path(python).parent.parent / "peers-status"
    for line in status_file.read_text().splitlines():
        peer, _, why = line.partition(" ")
        status[peer] = why
    return python, status


def prepare_input(args, work):
    """(input dir, expected records or None)."""
    if args.input:
        return Path(args.input).resolve(), None
    triples = args.records // 3
    if args.records % 3:
        log(f"note: --records {args.records} is not a multiple of 3; using {triples} triples = {triples * 3} records")
    input_dir = work / "input"
    stamp = input_dir / ".emulated"
    want = f"count={triples} seed=1"
    if stamp.exists() and stamp.read_text() == want and all((input_dir / f"{t}.jsonl").exists() for t in TABLES):
        log(f"== input: reusing {input_dir} ({want})")
        return input_dir, triples * 3
    if input_dir.exists():
        shutil.rmtree(input_dir)  # emulate appends: start from nothing
    log(f"== input: laketide emulate --to file {input_dir} --count {triples} --seed 1")
    proc = subprocess.run([str(args.laketide), "emulate", "--to", "file", str(input_dir), "--count", str(triples),
                           "--seed", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        log(proc.stdout + proc.stderr)
        sys.exit(f"laketide emulate failed (exit {proc.returncode})")
    log("   " + (proc.stdout.strip() or proc.stderr.strip()).splitlines()[-1])
    stamp.write_text(want)
    return input_dir, triples * 3


def warm_page_cache(input_dir):
    """Reads the input once so that no contender pays for the first read from disk."""
    for t in TABLES:
        with open(input_dir / f"{t}.jsonl", "rb") as f:
            while f.read(1 << 24):
                pass


def count_tables(python, fmt, path, names=TABLES):
    """{table: rows or None} read back with the venv's deltalake / pyarrow."""
    if not python:
        return None
    proc = subprocess.run([python, str(HERE / "tables.py"), "count", "--format", fmt, str(path), *names],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    result = parse_json_output(proc.stdout)
    if proc.returncode != 0 or not isinstance(result, dict):
        log(f"warning: cannot read the tables under {path}: {tail(proc.stderr, 3)}")
        return None
    return result


def check_contract(python, fmt, input_dir, path):
    proc = subprocess.run([python, str(HERE / "tables.py"), "check", "--format", fmt, str(input_dir), str(path)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return proc.returncode == 0, proc.stdout.strip()


def run_laketide_bench(args, input_dir, work, logs, python):
    """laketide's result dict (with "tables" when known), or None."""
    home = work / "laketide"
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    lake = home / "lake"
    env = dict(os.environ, LAKETIDE_LAKE=str(lake))
    cmd = [args.laketide, "bench", "--source", "file", "--input", input_dir, "--json"]
    log(f"== laketide: {' '.join(map(str, cmd))}")
    run = run_measured(cmd, logs, "laketide-bench", env=env, cwd=home)
    result = parse_json_output(run["stdout"])
    if run["rc"] != 0 or not isinstance(result, dict):
        log(f"laketide bench failed (exit {run['rc']}); its stderr:")
        log(tail(run["stderr"], 40) or "(empty)")
        if run["rc"] == 0:
            log(f"(its stdout held no JSON object: {tail(run['stdout'], 5)!r})")
        return None
    result = dict(result)
    result.setdefault("peer", "laketide")
    result["command"] = " ".join(map(str, cmd))
    result["outside_cpu_seconds"] = round(run["cpu_seconds"], 3)
    result["outside_wall_seconds"] = round(run["wall_seconds"], 3)
    result["outside_maxrss_bytes"] = run["maxrss_bytes"]
    note_background(result, run, run["cpu_seconds"])
    if not isinstance(result.get("tables"), dict):
        for candidate in (result.get("lake"), result.get("lake_dir"), result.get("output"), lake, home / "lake"):
            if candidate and Path(candidate).is_dir():
                counts = count_tables(python, "delta", candidate)
                if counts:
                    result["tables"] = counts
                    result["tables_read_from"] = str(candidate)
                    break
    return result


def run_laketide_fallback(args, input_dir, work, logs, python):
    """`laketide run topologies/pinterest-files.toml --until-idle`, measured from outside."""
    topology = REPO / "topologies" / "pinterest-files.toml"
    home = work / "laketide-run"
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    lake = home / "lake"
    env = dict(os.environ, LAKETIDE_INPUT=str(input_dir), LAKETIDE_LAKE=str(lake))
    cmd = [args.laketide, "run", topology, "--until-idle", "--progress", "0"]
    log(f"== laketide (fallback): LAKETIDE_INPUT={input_dir} LAKETIDE_LAKE={lake} {' '.join(map(str, cmd))}")
    run = run_measured(cmd, logs, "laketide-run", env=env, cwd=home)
    if run["rc"] != 0:
        log(f"laketide run failed (exit {run['rc']}):\n{tail(run['stderr'], 40)}")
        return None
    tables = count_tables(python, "delta", lake, TABLES + ("dead_letters",)) or {}
    match = re.search(r"(\d+) records read", run["stderr"])
    if match:
        records = int(match.group(1))
    else:
        records = sum(v or 0 for v in tables.values())
    rows = sum(tables.get(t) or 0 for t in TABLES)
    wall, cpu = run["wall_seconds"], run["cpu_seconds"]
    result = {
        "peer": "laketide run (fallback)",
        "command": " ".join(map(str, cmd)),
        "records": records,
        "rows": rows,
        "rejected": tables.get("dead_letters") or 0,
        "wall_seconds": round(wall, 3),
        "cpu_seconds": round(cpu, 3),
        "peak_rss_bytes": run["maxrss_bytes"],
        "records_per_sec": round(records / wall) if wall else None,
        "records_per_cpu_sec": round(records / cpu) if cpu else None,
        "tables": {t: tables.get(t) for t in TABLES},
        "measured": "from outside: wall clock and the kernel's rusage of the process (wait4)",
    }
    note_background(result, run, cpu)
    return result


def run_peer(name, python, input_dir, work, logs):
    script, fmt, _ = PEERS[name]
    out = work / "out" / name
    if out.exists():
        shutil.rmtree(out)
    cmd = [python, HERE / script, "--input", input_dir, "--output", out]
    log(f"== {name}: {' '.join(map(str, cmd))}")
    run = run_measured(cmd, logs, name)
    parsed = parse_json_output(run["stdout"])
    if run["rc"] != 0 or parsed is None:
        log(f"{name} failed (exit {run['rc']}); the end of its stderr ({run['stderr_path']}):")
        log(tail(run["stderr"], 30))
        return []
    results = parsed if isinstance(parsed, list) else [parsed]
    own = max(run["cpu_seconds"], sum(r.get("cpu_seconds") or 0 for r in results))
    for index, result in enumerate(results):
        result["command"] = " ".join(map(str, cmd))
        result["output_dir"] = str(out / "warm" if result.get("output") == "warm" else out)
        result["output_format"] = fmt
        result["outside_cpu_seconds"] = round(run["cpu_seconds"], 3)
        result["outside_wall_seconds"] = round(run["wall_seconds"], 3)
        note_background(result, run, own, quiet=index > 0)
        log(f"   {result.get('peer')}: {result.get('records')} records, {result.get('wall_seconds')} s wall, "
            f"{result.get('cpu_seconds')} CPU-s, {result.get('records_per_cpu_sec')} records per CPU-s")
    return results


def median_of(runs):
    """The run with the median CPU time, carrying every run's key figures in "runs"."""
    runs = [r for r in runs if r]
    if not runs:
        return None
    chosen = dict(sorted(runs, key=lambda r: r.get("cpu_seconds") or 0)[len(runs) // 2])
    if len(runs) > 1:
        keys = ("wall_seconds", "cpu_seconds", "peak_rss_bytes", "records_per_cpu_sec", "background_cpu_seconds")
        chosen["runs"] = [{k: r.get(k) for k in keys} for r in runs]
        chosen["chosen"] = "the run with the median CPU time"
    return chosen


def advantage_by_round(laketide_runs, peer_runs, mode):
    """laketide's records per CPU-s over the peer's, per round in which both have a figure."""
    ratios = []
    for ours, theirs in zip(laketide_runs, peer_runs):
        base = (ours or {}).get("records_per_cpu_sec")
        rpcs = theirs[mode].get("records_per_cpu_sec") if len(theirs) > mode else None
        if base and rpcs:
            ratios.append(round(base / rpcs, 2))
    return ratios


def fmt_num(value, digits=0):
    if value is None:
        return "n/a"
    if digits:
        return f"{value:,.{digits}f}"
    return f"{round(value):,}"


def markdown(laketide, results):
    by_round = any(len(r.get("advantage_by_round") or []) > 1 for r in results)
    header = ("| peer | records | wall s | CPU s | records/s | records per CPU-s | peak RSS MiB "
              "| laketide advantage per CPU-s |" + (" by round: median (range) |" if by_round else ""))
    lines = [header, "|---|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if by_round else "")]
    base = (laketide or {}).get("records_per_cpu_sec")
    rows = ([laketide] if laketide else []) + results
    for r in rows:
        rss = r.get("peak_rss_bytes")
        rpcs = r.get("records_per_cpu_sec")
        if r is laketide:
            adv = "1.0x"
        elif base and rpcs:
            adv = f"{base / rpcs:.1f}x"
        else:
            adv = "n/a"
        line = (
            f"| {r.get('peer')} | {fmt_num(r.get('records'))} | {fmt_num(r.get('wall_seconds'), 2)} "
            f"| {fmt_num(r.get('cpu_seconds'), 2)} | {fmt_num(r.get('records_per_sec'))} | {fmt_num(rpcs)} "
            f"| {fmt_num(rss / 2**20 if rss is not None else None)} | {adv} |")
        if by_round:
            ratios = sorted(r.get("advantage_by_round") or [])
            if r is laketide or not ratios:
                line += " |"
            else:
                line += f" {statistics.median(ratios):.1f}x ({ratios[0]:.1f}-{ratios[-1]:.1f}x) |"
        lines.append(line)
    return "\n".join(lines)


def machine():
    info = {"nproc": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()}
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                info["mem_total_kib"] = int(line.split()[1])
                break
    except OSError:
        pass
    return info


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--laketide", type=Path, default=default_binary(),
                        help="the laketide binary (default: $CARGO_TARGET_DIR/release/laketide, "
                             "else ~/.cache/laketide-target/release/laketide)")
    parser.add_argument("--records", type=int, default=900_000, help="input records (RECORDS/3 triples; default 900000)")
    parser.add_argument("--input", help="use this pin/geo/user.jsonl directory instead of emulating one")
    parser.add_argument("--work", help="working directory (default: a new temporary directory, kept)")
    parser.add_argument("--peers", default="python_loop,polars,spark", help="comma-separated: python_loop,polars,spark")
    parser.add_argument("--json", help="write all results here (default: WORK/results.json)")
    parser.add_argument("--retry-setup", action="store_true",
                        help="run setup.sh --retry: install again the peers whose setup failed before")
    parser.add_argument("--no-run-fallback", action="store_true",
                        help="if `laketide bench` fails, do not measure `laketide run` instead")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run every contender this many times and report the run with the median CPU time")
    parser.add_argument("--check-contract", action="store_true",
                        help="also compare every peer's rows and types with tests/tools/check_pinterest_tables.py "
                             "(slow on large inputs)")
    args = parser.parse_args()

    peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    unknown = [p for p in peers if p not in PEERS]
    if unknown:
        sys.exit(f"unknown peers {unknown}; known: {', '.join(PEERS)}")
    have_laketide = args.laketide.exists()
    if not have_laketide:
        message = f"no laketide binary at {args.laketide} (build it with `cargo build --release`, or pass --laketide)"
        if not args.input:
            sys.exit(message + "; it is needed to generate the input (or pass --input DIR)")
        warn(message + ": measuring the peers only")
    args.laketide = args.laketide.resolve()
    work = Path(args.work).resolve() if args.work else Path(tempfile.mkdtemp(prefix="laketide-peers-"))
    work.mkdir(parents=True, exist_ok=True)
    logs = work / "logs"
    logs.mkdir(exist_ok=True)
    log(f"work directory: {work}")

    python, status = setup_venv(args.retry_setup)
    input_dir, expected_records = prepare_input(args, work)
    warm_page_cache(input_dir)
    active = []
    skipped = {}
    for name in peers:
        why = status.get(PEERS[name][2], "not in the setup status file")
        if why != "ok":
            skipped[name] = why
            log(f"== {name}: skipped: {why} (after fixing the cause: --retry-setup)")
            continue
        active.append(name)
    # Rounds, not blocks: each round runs every contender once, so that contenders compared
    # in one round ran minutes apart at most. Shared machines drift: the 2-core VM of
    # BENCHMARKS.md ran the same binary 1.6x slower five minutes after a quiet spell. Measured in
    # blocks (laketide K times, then each peer K times), a ratio would compare spells as much
    # as programs.
    laketide_runs, peer_runs = [], {name: [] for name in active}
    fallback = False
    for round_index in range(args.repeat):
        if args.repeat > 1:
            log(f"-- round {round_index + 1} of {args.repeat}")
        if have_laketide:
            if not fallback:
                result = run_laketide_bench(args, input_dir, work, logs, python)
                # Measured from outside instead only if the very first bench run failed.
                fallback = result is None and not laketide_runs and not args.no_run_fallback
            if fallback:
                result = run_laketide_fallback(args, input_dir, work, logs, python)
            laketide_runs.append(result)
        for name in active:
            peer_runs[name].append(run_peer(name, python, input_dir, work, logs))
    laketide = median_of(laketide_runs)
    if laketide:
        log(f"   {laketide['peer']}: {laketide.get('records')} records, {laketide.get('wall_seconds')} s wall, "
            f"{laketide.get('cpu_seconds')} CPU-s, {laketide.get('records_per_cpu_sec')} records per CPU-s")
    laketide_tables = (laketide or {}).get("tables")
    if laketide_tables:
        laketide_tables = {t: laketide_tables.get(t) for t in TABLES}
    elif laketide:
        warn("laketide's row counts per table are unknown (no \"tables\" in its JSON and no lake found): "
             "peers' row counts are not verified")

    results, row_counts = [], {}
    if laketide_tables:
        row_counts[laketide["peer"]] = laketide_tables
    for name in active:
        runs = peer_runs[name]
        # one list per run, each [result] or [oneshot, warm]: the median per mode
        modes = max((len(run) for run in runs), default=0)
        peer_results = [median_of([run[i] for run in runs if len(run) > i]) for i in range(modes)]
        for i, result in enumerate(peer_results):
            result["advantage_by_round"] = advantage_by_round(laketide_runs, runs, i)
        if not peer_results:
            skipped[name] = "the peer failed; see the log above"
        for result in peer_results:
            counts = count_tables(python, PEERS[name][1], result["output_dir"])
            result["tables_read_back"] = counts
            row_counts[result.get("peer", name)] = counts
            if expected_records is not None and result.get("records") != expected_records:
                warn(f"{result.get('peer')} processed {result.get('records')} records, not {expected_records}")
            if counts and laketide_tables and counts != laketide_tables:
                warn(f"{result.get('peer')} row counts {counts} differ from laketide's {laketide_tables}")
            if args.check_contract and result.get("output") != "warm":
                ok, text = check_contract(python, PEERS[name][1], input_dir, result["output_dir"])
                result["contract_check"] = "ok" if ok else text
                (log if ok else warn)(f"{result.get('peer')} against the cleaning contract: {text}")
            results.append(result)
    if laketide and expected_records is not None and laketide.get("records") not in (None, expected_records):
        warn(f"laketide processed {laketide.get('records')} records, not {expected_records}")

    table = markdown(laketide, results)
    print()
    print(f"{expected_records or 'the given'} input records ({input_dir}); {os.cpu_count()} cores")
    print()
    print(table)
    for name, why in skipped.items():
        print(f"\nskipped {name}: {why}")
    for message in WARNINGS:
        print(f"\nWARNING: {message}")
    sys.stdout.flush()

    out = Path(args.json) if args.json else work / "results.json"
    report = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "records": expected_records,
        "input": str(input_dir),
        "work": str(work),
        "laketide_binary": str(args.laketide),
        "machine": machine(),
        "laketide": laketide,
        "peers": results,
        "skipped": skipped,
        "row_counts": row_counts,
        "warnings": WARNINGS,
        "markdown": table,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    log(f"results: {out}")


if __name__ == "__main__":
    main()
