"""CPU, memory and wall-clock of a peer's whole process tree, read from /proc (Linux only).

A peer calls `start_json_stdout()` first (so that nothing else, a JVM child included, can write
to the real stdout), does its work, takes `sample()` while every process it started is still
alive, and prints `result(...)` with `emit()`.

- CPU: utime + stime + cutime + cstime of the process and of every live descendant, from
  /proc/<pid>/stat. cutime/cstime hold the children that already exited and were reaped (for
  example Spark's launcher JVM, reaped by spark-class before it execs the real JVM), so each
  process is counted once: by itself while alive, by its reaper after. A descendant that was
  orphaned (reparented outside the tree) before the sample is missed.
- Peak RSS: the sum of VmHWM (each process's own high-water mark) over the same processes, from
  /proc/<pid>/status. Summing peaks that may not coincide can only overstate.
- Wall: from the process's own start (its starttime in /proc/self/stat, so interpreter start-up
  and imports count), to the sample.

`arguments()` is the command line every peer shares: `--input DIR --output DIR`.
"""
import argparse
import json
import os
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def _stat_fields(pid):
    """Fields of /proc/<pid>/stat after the command name; index 0 is field 3 (state)."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        data = f.read()
    return data[data.rindex(b")") + 2:].split()


def _children_map():
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            ppid = int(_stat_fields(entry)[1])
        except (OSError, ValueError, IndexError):
            continue  # exited meanwhile
        children.setdefault(ppid, []).append(int(entry))
    return children


def tree(root=None):
    """`root` (default: this process) and its live descendants."""
    root = os.getpid() if root is None else root
    children = _children_map()
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


def _cpu_ticks(pid):
    f = _stat_fields(pid)
    # fields 14..17 of stat(5): utime stime cutime cstime; f[0] is field 3.
    return int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])


def _vm_hwm(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0  # kernel threads, zombies


def _start_seconds(pid):
    """When the process started, on the CLOCK_BOOTTIME scale."""
    return int(_stat_fields(pid)[19]) / CLK_TCK


def sample(root=None):
    """{"cpu_seconds", "peak_rss_bytes", "pids", "at"} for `root`'s tree right now."""
    ticks = rss = 0
    pids = []
    for pid in tree(root):
        try:
            t = _cpu_ticks(pid)
            r = _vm_hwm(pid)
        except (OSError, ValueError, IndexError):
            continue  # exited between the listing and the read
        ticks += t
        rss += r
        pids.append(pid)
    return {
        "cpu_seconds": ticks / CLK_TCK,
        "peak_rss_bytes": rss,
        "pids": pids,
        "at": time.clock_gettime(time.CLOCK_BOOTTIME),
    }


def process_start():
    """This process's start time on the CLOCK_BOOTTIME scale (10 ms resolution)."""
    return _start_seconds(os.getpid())


def result(peer, records, rows, cpu_seconds, wall_seconds, peak_rss_bytes, **extra):
    """The JSON object a peer prints; `records` = rows written + rows rejected."""
    out = {
        "peer": peer,
        "records": records,
        "rows": rows,
        "rejected": records - rows,
        "wall_seconds": round(wall_seconds, 3),
        "cpu_seconds": round(cpu_seconds, 3),
        "peak_rss_bytes": peak_rss_bytes,
        "records_per_sec": round(records / wall_seconds) if wall_seconds > 0 else None,
        "records_per_cpu_sec": round(records / cpu_seconds) if cpu_seconds > 0 else None,
    }
    out.update(extra)
    return out


def whole_process(peer, records, rows, snap=None, **extra):
    """The result for everything since this process started (`snap`: a `sample()` taken
    while the children were alive; taken now if omitted)."""
    snap = snap or sample()
    return result(peer, records, rows, snap["cpu_seconds"], snap["at"] - process_start(),
                  snap["peak_rss_bytes"], processes=len(snap["pids"]), **extra)


_real_stdout = None


def start_json_stdout():
    """Points fd 1 (and so sys.stdout and any child's stdout) at stderr, keeping the real
    stdout for `emit`: the peer's JSON is then the only thing on it."""
    global _real_stdout
    if _real_stdout is None:
        sys.stdout.flush()
        _real_stdout = os.dup(1)
        os.dup2(2, 1)


def emit(obj):
    """Writes `obj` as one line of JSON to the real stdout."""
    data = (json.dumps(obj) + "\n").encode()
    fd = _real_stdout if _real_stdout is not None else 1
    sys.stdout.flush()
    os.write(fd, data)


def exit_now(code=0):
    """Exits without interpreter teardown (pyarrow sometimes aborts there after a good run)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def arguments(doc, tables, output_help, extra=None):
    """Parses `--input DIR --output DIR` (plus what `extra(parser)` adds) and refuses an --output
    that already holds one of the `tables` (paths relative to it): appending to a previous run's
    tables would measure a different job. Creates --output."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--input", required=True, help="directory with pin/geo/user.jsonl")
    parser.add_argument("--output", required=True, help=output_help)
    if extra is not None:
        extra(parser)
    args = parser.parse_args()
    for table in tables:
        path = os.path.join(args.output, table)
        if os.path.exists(path):
            sys.exit(f"{path} exists: give an empty --output")
    os.makedirs(args.output, exist_ok=True)
    return args
