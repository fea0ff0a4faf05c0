#!/usr/bin/env python3
"""tools/kernel_trace_report.py — where a CUDA-graph step's time goes, from a kernel trace
written by bench/cuda/kernel_trace.cpp (issue #7).

Takes the graph launched most often in the trace (the decode step of `lightllm bench decode`),
drops the first --warmup launches, and checks that every launch ran the same kernels in the
same order. For each kernel of a launch (sorted by start):
  run      = end - start: how long some block of it was on the GPU (with programmatic
             dependent launch this includes the time its blocks wait for the previous kernel);
  advance  = end - (the latest end of the kernels before it): what it adds to the step;
  lead     = start - (the previous kernel's end): < 0 when it started under its predecessor.
The advances of a launch add up to its span (first start to last end). Prints the medians over
launches, summed per kernel name (the template arguments tell the variants apart), the first
--positions kernels one by one (a layer's pattern), and the gaps between launches.

Usage: tools/kernel_trace_report.py TRACE.csv [--warmup N] [--positions N] [--graph ID]
"""
import argparse
import csv
import re
import statistics
import sys
from collections import defaultdict


def load(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for key in ("start_ns", "end_ns", "graph_id", "correlation_id", "grid", "block", "regs"):
            r[key] = int(r[key])
    return rows


def launches_of(rows, graph_id):
    by_launch = defaultdict(list)
    for r in rows:
        if r["graph_id"] == graph_id:
            by_launch[r["correlation_id"]].append(r)
    launches = [sorted(ks, key=lambda k: k["start_ns"]) for ks in by_launch.values()]
    launches.sort(key=lambda ks: ks[0]["start_ns"])
    return launches


def per_kernel(launch):
    """(name, run, advance, lead) in ns for each kernel of one launch, in start order."""
    out, latest_end, prev_end = [], launch[0]["start_ns"], None
    for k in launch:
        run = k["end_ns"] - k["start_ns"]
        advance = max(0, k["end_ns"] - latest_end)
        lead = 0 if prev_end is None else k["start_ns"] - prev_end
        out.append((k["name"], run, advance, lead))
        latest_end = max(latest_end, k["end_ns"])
        prev_end = k["end_ns"]
    return out


def us(ns):
    return f"{ns / 1000:9.2f}"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("trace")
    p.add_argument("--warmup", type=int, default=5, help="launches to drop first")
    p.add_argument("--positions", type=int, default=16, help="kernels to list one by one")
    p.add_argument("--graph", type=int, default=None, help="graph id (default: most launched)")
    a = p.parse_args()

    rows = load(a.trace)
    # Host runtime calls (KERNEL_TRACE_API=1): by correlation id, for when an op was queued.
    host = {r["correlation_id"]: r for r in rows if r["name"].startswith("host ")}
    rows = [r for r in rows if not r["name"].startswith("host ")]
    counts = defaultdict(set)
    for r in rows:
        if r["graph_id"] != 0:
            counts[r["graph_id"]].add(r["correlation_id"])
    if not counts:
        sys.exit("kernel_trace_report: no graph launches in the trace")
    graph = a.graph if a.graph is not None else max(counts, key=lambda g: len(counts[g]))
    launches = launches_of(rows, graph)[a.warmup:]
    if not launches:
        sys.exit(f"kernel_trace_report: graph {graph} has no launches after the warm-up")
    pattern = [k["name"] for k in launches[0]]
    bad = [i for i, ks in enumerate(launches) if [k["name"] for k in ks] != pattern]
    if bad:
        sys.exit(f"kernel_trace_report: {len(bad)} launches ran other kernels than the first")

    table = [per_kernel(ks) for ks in launches]  # [launch][position] -> (name, run, adv, lead)
    spans = [ks[-1]["end_ns"] - ks[0]["start_ns"] for ks in launches]
    gaps = [b[0]["start_ns"] - a_[-1]["end_ns"] for a_, b in zip(launches, launches[1:])]
    print(f"graph {graph}: {len(launches)} launches of {len(pattern)} kernels "
          f"(after {a.warmup} dropped); median span {us(statistics.median(spans))} us, "
          f"gap to the next launch median {us(statistics.median(gaps)) if gaps else '-'} us")

    per_name = defaultdict(lambda: {"n": 0, "run": [], "adv": [], "lead": []})
    for name, *_ in table[0]:
        per_name[name]["n"] += 1
    for launch in table:
        sums = defaultdict(lambda: [0, 0, 0])
        for name, run, adv, lead in launch:
            s = sums[name]
            s[0] += run
            s[1] += adv
            s[2] += lead
        for name, (run, adv, lead) in sums.items():
            per_name[name]["run"].append(run)
            per_name[name]["adv"].append(adv)
            per_name[name]["lead"].append(lead)
    span = statistics.median(spans)
    print("\nper kernel name, medians over launches (us; per step = all its kernels of a step)")
    print(f"{'kernels/step':>12} {'run/kernel':>10} {'advance/step':>12} {'share':>6} "
          f"{'lead/kernel':>11}  name")
    order = sorted(per_name, key=lambda n: -statistics.median(per_name[n]["adv"]))
    for name in order:
        d = per_name[name]
        n = d["n"]
        adv = statistics.median(d["adv"])
        print(f"{n:12d} {us(statistics.median(d['run']) / n):>10} {us(adv):>12} "
              f"{100 * adv / span:5.1f}% {us(statistics.median(d['lead']) / n):>11}  {name}")

    # What runs between two launches of the graph: the most common sequence of operations,
    # each at its median offset from the previous launch's last end.
    others = [r for r in rows if r["graph_id"] != graph]
    seqs, j = [], 0
    for before, after in zip(launches, launches[1:]):
        lo, hi = max(k["end_ns"] for k in before), after[0]["start_ns"]
        while j < len(others) and others[j]["start_ns"] < lo:
            j += 1
        seq = []
        while j < len(others) and others[j]["start_ns"] < hi:
            seq.append(others[j])
            j += 1
        seqs.append((lo, hi, seq))
    if seqs:
        common = defaultdict(list)
        for lo, hi, seq in seqs:
            # copies of a growing size (req_to_token rows) count as the same operation
            common[tuple(re.sub(r"\d+ B$", "N B", r["name"]) for r in seq)].append((lo, hi, seq))
        names, group = max(common.items(), key=lambda kv: len(kv[1]))
        print(f"\nbetween two launches ({len(group)} of {len(seqs)} gaps run this sequence; "
              f"us from the previous launch's end; queued: when the host made the call, if "
              f"traced)")
        print(f"{'start':>9} {'end':>9} {'run':>9} {'queued':>9}  stream  name")

        def queued(ops):  # ops: [(lo, op)]
            t = [host[op["correlation_id"]]["start_ns"] - lo for lo, op in ops
                 if op["correlation_id"] in host]
            return us(statistics.median(t)) if t else f"{'-':>9}"

        for i, name in enumerate(names):
            start = statistics.median(seq[i]["start_ns"] - lo for lo, _, seq in group)
            end = statistics.median(seq[i]["end_ns"] - lo for lo, _, seq in group)
            run = statistics.median(seq[i]["end_ns"] - seq[i]["start_ns"] for _, _, seq in group)
            q = queued([(lo, seq[i]) for lo, _, seq in group])
            print(f"{us(start)} {us(end)} {us(run)} {q}  {group[0][2][i].get('stream', '?'):>6}  "
                  f"{name}")
        nexts = {id(before): after for before, after in zip(launches, launches[1:])}
        by_lo = {max(k["end_ns"] for k in b): nexts[id(b)] for b in launches[:-1]}
        q = queued([(lo, by_lo[lo][0]) for lo, _, _ in group])
        print(f"{us(statistics.median(hi - lo for lo, hi, _ in group))} {'':9} {'':9} {q}  "
              f"{launches[0][0].get('stream', '?'):>6}  (the next launch's first kernel)")

    print(f"\nthe first {a.positions} kernels of a step, medians over launches (us)")
    print(f"{'#':>3} {'run':>9} {'advance':>9} {'lead':>9}  grid x block, regs  name")
    for i in range(min(a.positions, len(pattern))):
        k = launches[0][i]
        run = statistics.median(t[i][1] for t in table)
        adv = statistics.median(t[i][2] for t in table)
        lead = statistics.median(t[i][3] for t in table)
        print(f"{i:3d} {us(run)} {us(adv)} {us(lead)}  {k['grid']} x {k['block']}, "
              f"{k['regs']}  {k['name']}")


if __name__ == "__main__":
    main()
