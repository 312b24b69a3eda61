#!/usr/bin/env python3
"""throughput_report.py: the table and the verdicts of tests/bench/throughput.sh.

  throughput_report.py DIR RUNS VPND_LABEL

DIR holds one file per completed measurement, named IMPL.ROUND (IMPL one of
vpnd, wireguard-go, veth), each line "metric value". For every metric it
prints each implementation's median (min-max) over the rounds, then the
ratios vpnd/wireguard-go and vpnd/veth. A ratio is taken within each round
(the implementations ran one after the other, so they shared the machine's
load of that moment) and the median (min-max) of those per-round ratios is
what is printed and judged against issue 14's targets.
"""

import os
import statistics
import sys

IMPLS = ("vpnd", "wireguard-go", "veth")

# key, label, unit, divisor from the recorded unit
METRICS = (
    ("tcp1_ab", "TCP 1 stream A->B", "Mbit/s", 1e6),
    ("tcp1_ba", "TCP 1 stream B->A", "Mbit/s", 1e6),
    ("tcp4_ab", "TCP 4 streams A->B", "Mbit/s", 1e6),
    ("tcp4_ba", "TCP 4 streams B->A", "Mbit/s", 1e6),
    ("udp_ab", "UDP A->B received", "Mbit/s", 1e6),
    ("udp_ab_loss", "UDP A->B loss", "%", 1),
    ("udp_ba", "UDP B->A received", "Mbit/s", 1e6),
    ("udp_ba_loss", "UDP B->A loss", "%", 1),
    ("rtt_idle", "ping RTT idle", "ms", 1),
    ("rtt_load", "ping RTT under load", "ms", 1),
    ("rss_a", "peak RSS end A", "MiB", 1024),
    ("rss_b", "peak RSS end B", "MiB", 1024),
)

# Issue 14's targets: metric, against (wireguard-go | veth), comparison, bound.
RATIO_TARGETS = [(m, "wireguard-go", ">=", 10) for m in ("tcp1_ab", "tcp1_ba", "tcp4_ab", "tcp4_ba")]
RATIO_TARGETS += [(m, "veth", ">=", 0.4) for m in ("tcp1_ab", "tcp1_ba", "tcp4_ab", "tcp4_ba")]
RATIO_TARGETS += [(m, "wireguard-go", ">=", 10) for m in ("udp_ab", "udp_ba")]
RATIO_TARGETS += [(m, "wireguard-go", "<=", 0.5) for m in ("rtt_idle", "rtt_load")]
RATIO_TARGETS += [(m, "wireguard-go", "<=", 0.1) for m in ("rss_a", "rss_b")]
RSS_CAP_MIB = 4


def load(path):
    """{impl: {round: {metric: value}}}"""
    data = {i: {} for i in IMPLS}
    for name in sorted(os.listdir(path)):
        impl, _, rnd = name.rpartition(".")
        if impl not in data or not rnd.isdigit():
            continue
        vals = {}
        with open(os.path.join(path, name)) as f:
            for line in f:
                k, _, v = line.partition(" ")
                vals[k] = float(v)
        data[impl][int(rnd)] = vals
    return data


def series(data, impl, metric):
    return [r[metric] for _, r in sorted(data[impl].items()) if metric in r]


def ratios(data, metric, against):
    out = []
    for rnd, r in sorted(data["vpnd"].items()):
        o = data[against].get(rnd, {})
        if metric in r and metric in o and o[metric] > 0:
            out.append(r[metric] / o[metric])
    return out


def fmt(vals, div=1, digits=None):
    """median (min-max), with as many decimals as the size calls for."""
    if not vals:
        return "-"
    v = [x / div for x in vals]
    med = statistics.median(v)
    if digits is None:
        a = max(abs(x) for x in v)
        digits = 0 if a >= 100 else 1 if a >= 10 else 2 if a >= 0.1 else 3
    if len(v) == 1:
        return "%.*f" % (digits, med)
    return "%.*f (%.*f-%.*f)" % (digits, med, digits, min(v), digits, max(v))


def main():
    path, runs, vlabel = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    data = load(path)
    short = {"vpnd": vlabel, "wireguard-go": "wg-go", "veth": "veth"}
    counts = {i: len(data[i]) for i in IMPLS}
    print("\nrounds completed: " + ", ".join("%s %d/%d" % (short[i], counts[i], runs) for i in IMPLS))
    print("each cell: median (min-max) over the rounds; ratios are taken within a round\n")
    w = (28, 22, 22, 22, 22, 22)
    head = ("", short["vpnd"], "wg-go", "veth (no tunnel)", vlabel + "/wg-go", vlabel + "/veth")
    print("".join("%-*s" % (w[i], h) for i, h in enumerate(head)))
    for key, label, unit, div in METRICS:
        cells = [fmt(series(data, i, key), div) for i in IMPLS]
        loss = key.endswith("_loss")
        cells.append("-" if loss else fmt(ratios(data, key, "wireguard-go"), digits=2))
        cells.append("-" if loss or key.startswith("rss") else fmt(ratios(data, key, "veth"), digits=2))
        row = ["%s (%s)" % (label, unit)] + cells
        print("".join("%-*s" % (w[i], c) for i, c in enumerate(row)))

    print("\nissue 14 targets (median of the per-round ratios, min-max in brackets):")
    labels = {k: l for k, l, _, _ in METRICS}
    for key, against, op, bound in RATIO_TARGETS:
        r = ratios(data, key, against)
        what = "%s/%s %s %gx" % (vlabel, short[against], op, bound)
        if not r:
            print("  %-22s %-22s not measured" % (labels[key], what))
            continue
        med = statistics.median(r)
        ok = med >= bound if op == ">=" else med <= bound
        fig = fmt(r, digits=2)
        fig = fig.replace(" ", "x ", 1) if " " in fig else fig + "x"   # "5.30x (4.21-6.91)"
        print("  %-22s %-22s %-24s %s" % (labels[key], what, fig, "met" if ok else "gap"))
    for key in ("rss_a", "rss_b"):
        v = series(data, "vpnd", key)
        what = "%s <= %d MiB (worst)" % (vlabel, RSS_CAP_MIB)
        if not v:
            print("  %-22s %-22s not measured" % (labels[key], what))
            continue
        worst = max(v) / 1024
        print("  %-22s %-22s %-24s %s" % (labels[key], what, "%.2f MiB" % worst,
                                          "met" if worst <= RSS_CAP_MIB else "gap"))
    return 0 if all(counts[i] == runs for i in IMPLS) else 1


if __name__ == "__main__":
    sys.exit(main())
