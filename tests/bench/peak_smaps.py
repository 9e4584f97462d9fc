#!/usr/bin/env python3
"""Where a program's peak memory goes: runs COMMAND, samples /proc/PID/smaps every few
milliseconds and writes the resident mappings of the sample with the largest RSS, grouped by
file (anonymous memory as [heap], [stack], [anon]), and the process's high-water mark (VmHWM of
the last sample).

Usage: peak_smaps.py --out FILE [--interval-ms N] [--top N] -- COMMAND [ARGS...]
Used by scripts/bench_agent_rss.sh (SMAPS=1) as `peak_smaps.py -- measure OUT PROGRAM ...`: when
COMMAND has a child (measure's), the child is sampled. The exit status is passed through. Exact
peak RSS, wall and CPU come from `measure`: a forked Python would count its own pages as the
child's peak (the kernel's maxrss keeps the pre-exec high-water mark).

The sampled peak can miss a short spike between samples; VmHWM does not.
"""

import argparse
import collections
import os
import subprocess
import sys
import time


def read_smaps(pid):
    """{name: [rss_kib, private_dirty_kib, swap_kib]} of one /proc/PID/smaps reading."""
    usage = collections.defaultdict(lambda: [0, 0, 0])
    name = None
    try:
        with open(f"/proc/{pid}/smaps", "r", encoding="utf-8", errors="replace") as f:
            for line in f:
                first = line.split(None, 1)[0]
                if not first.endswith(":"):  # a mapping's header line
                    parts = line.split()
                    name = parts[5] if len(parts) > 5 else "[anon]"
                    continue
                if first == "Rss:":
                    usage[name][0] += int(line.split()[1])
                elif first == "Private_Dirty:":
                    usage[name][1] += int(line.split()[1])
                elif first == "Swap:":
                    usage[name][2] += int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return usage


def sampled_pid(pid):
    """The first child of `pid` if it has one (measure's command), else `pid`."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as f:
            children = f.read().split()
    except OSError:
        return pid
    return int(children[0]) if children else pid


def vm_hwm(pid):
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--interval-ms", type=float, default=5)
    parser.add_argument("--top", type=int, default=14)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command")
    start = time.monotonic()
    child = subprocess.Popen(command)
    peak, peak_total, peak_at, hwm = None, -1, 0.0, None
    pid = child.pid
    while True:
        if pid == child.pid:
            pid = sampled_pid(child.pid)  # once found, the child is sampled until it ends
        usage = read_smaps(pid)
        hwm = vm_hwm(pid) or hwm
        if usage:
            total = sum(v[0] for v in usage.values())
            if total > peak_total:
                peak, peak_total, peak_at = usage, total, time.monotonic() - start
        if child.poll() is not None:
            break
        time.sleep(args.interval_ms / 1000)
    with open(args.out, "w", encoding="utf-8") as out:
        out.write(f"last VmHWM {hwm} KiB; largest sample {peak_total} KiB at {peak_at:.3f} s\n")
        if peak:
            out.write(f"{'rss KiB':>9} {'dirty KiB':>9}  mapping\n")
            ranked = sorted(peak.items(), key=lambda item: -item[1][0])
            for name, (rss, dirty, _) in ranked[: args.top]:
                out.write(f"{rss:9d} {dirty:9d}  {name}\n")
            rest = ranked[args.top :]
            out.write(f"{sum(v[0] for _, v in rest):9d} "
                      f"{sum(v[1] for _, v in rest):9d}  ({len(rest)} more)\n")
    return child.returncode if child.returncode >= 0 else 128 - child.returncode


if __name__ == "__main__":
    sys.exit(main())
