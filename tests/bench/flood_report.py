#!/usr/bin/env python3
"""flood_report.py: the tables and the verdicts of tests/bench/flood.sh.

  flood_report.py DIR RUNS FLOOD_RATE KIND...

DIR holds one file per completed measurement, IMPL.ROUND, each line
"metric value" (see flood.sh). Every cell is the median (min-max) over the
rounds; "kept" is the flooded/unflooded throughput of each round, then the
median of those.
"""

import statistics
import sys

from throughput_report import fmt, load, series

IMPLS = ("vpnd", "wireguard-go")
KEPT_TARGET = 0.5        # issue 16: the tunnel keeps half its throughput
CPU_TARGET = 50.0        # % of one core for the flood alone (see README)
RATE_REACHED = 0.95      # the flood counts only if it reached its rate
RSS_GROWTH_MIB = 1.0     # "flat": peak and final RSS within 1 MiB of before

# suffix, label, divisor
PHASE_ROWS = (
    ("idle_rate", "flooder rate, flood alone (/s)", 1),
    ("idle_cpu", "daemon CPU, flood alone (%)", 1),
    ("idle_wakeups", "daemon wakeups, flood alone (/s)", 1),
    ("idle_udp_in", "responder UDP read, alone (/s)", 1),
    ("idle_cookies", "cookie replies rcvd, alone (/s)", 1),
    ("idle_udp_out", "responder UDP out, alone (/s)", 1),
    ("idle_drops", "socket drops, alone (/s)", 1),
    ("idle_core_busy", "flooder's core busy, alone (%)", 1),
    ("idle_core_nice", "flooder's core niced jobs (%)", 1),
    ("idle_core_idle", "flooder's core idle, alone (%)", 1),
    ("load_rate", "flooder rate, with TCP (/s)", 1),
    ("bps", "TCP A->B flooded (Mbit/s)", 1e6),
    ("retrans", "TCP retransmits, flooded", 1),
    ("load_cpu", "daemon CPU, flood+TCP (%)", 1),
    ("load_wakeups", "daemon wakeups, flood+TCP (/s)", 1),
    ("load_cookies", "cookie replies rcvd, TCP (/s)", 1),
    ("load_drops", "socket drops, with TCP (/s)", 1),
    ("load_flooder_cpu", "flooder's own CPU (%)", 1),
)
W = (36, 26, 26)


def row(label, cells):
    print("".join("%-*s" % (W[i], c) for i, c in enumerate([label] + cells)))


def kept(data, impl, kind):
    out = []
    for _, r in sorted(data[impl].items()):
        if r.get("base_bps", 0) > 0 and kind + "_bps" in r:
            out.append(r[kind + "_bps"] / r["base_bps"])
    return out


def cost_us(data, impl, kind):
    """Per round: the daemon's CPU time per datagram it read, flood alone, in
    microseconds: what one flood packet costs it, whatever share of the core
    the machine's other load left it."""
    out = []
    for _, r in sorted(data[impl].items()):
        n = r.get(kind + "_idle_udp_in", 0)
        if n > 0 and kind + "_idle_cpu" in r:
            out.append(r[kind + "_idle_cpu"] / 100 / n * 1e6)
    return out


def growth(data, impl, key):
    """Per round: RSS at `key` minus RSS before the first flood, MiB."""
    return [(r[key] - r["rss_before"]) / 1024 for _, r in sorted(data[impl].items())
            if key in r and "rss_before" in r]


def verdict(ok):
    return "met" if ok else "gap"


def main():
    path, runs, rate, kinds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4:]
    data = {k: v for k, v in load(path).items() if k in IMPLS}
    counts = {i: len(data[i]) for i in IMPLS}
    print("\nrounds completed: " + ", ".join("%s %d/%d" % (i, counts[i], runs) for i in IMPLS))
    print("each cell: median (min-max) over the rounds; B is the responder and the iperf3 server\n")
    row("", list(IMPLS))
    row("TCP A->B unflooded (Mbit/s)", [fmt(series(data, i, "base_bps"), 1e6) for i in IMPLS])
    row("TCP retransmits, unflooded", [fmt(series(data, i, "base_retrans")) for i in IMPLS])
    row("daemon CPU, unflooded TCP (%)", [fmt(series(data, i, "base_cpu")) for i in IMPLS])
    row("daemon wakeups, unflooded (/s)", [fmt(series(data, i, "base_wakeups")) for i in IMPLS])
    for kind in kinds:
        print("\nflood kind: %s" % kind)
        for suffix, label, div in PHASE_ROWS:
            row(label, [fmt(series(data, i, kind + "_" + suffix), div) for i in IMPLS])
        row("daemon CPU per datagram read (us)", [fmt(cost_us(data, i, kind), digits=2) for i in IMPLS])
        row("kept: flooded/unflooded", [fmt(kept(data, i, kind), digits=2) for i in IMPLS])
    print()
    for key, label in (("rss_before", "RSS before the floods (MiB)"),
                       ("rss_after", "RSS after the floods (MiB)"),
                       ("rss_peak", "peak RSS, VmHWM (MiB)")):
        row(label, [fmt(series(data, i, key), 1024, digits=2) for i in IMPLS])

    print("\nissue 16 targets (vpnd; wireguard-go's figure alongside):")
    for kind in kinds:
        v, g = kept(data, "vpnd", kind), kept(data, "wireguard-go", kind)
        fig = "%s  (wg-go %s)" % (fmt(v, digits=2), fmt(g, digits=2))
        print("  %-8s throughput kept >= %.0f%%          %-40s %s" % (
            kind, KEPT_TARGET * 100, fig, verdict(v and statistics.median(v) >= KEPT_TARGET)
            if v else "not measured"))
    for kind in kinds:
        v = series(data, "vpnd", kind + "_idle_cpu")
        g = series(data, "wireguard-go", kind + "_idle_cpu")
        fig = "%s%%  (wg-go %s%%)" % (fmt(v), fmt(g))
        print("  %-8s daemon CPU, flood alone <= %.0f%%   %-40s %s" % (
            kind, CPU_TARGET, fig, verdict(statistics.median(v) <= CPU_TARGET)
            if v else "not measured"))
    for key, label in (("rss_after", "RSS after - before"), ("rss_peak", "peak RSS - before")):
        v, g = growth(data, "vpnd", key), growth(data, "wireguard-go", key)
        fig = "worst %+.2f MiB  (wg-go worst %+.2f MiB)" % (max(v) if v else 0, max(g) if g else 0)
        print("  %-8s %-29s %-40s %s" % ("all", label + " <= %g MiB" % RSS_GROWTH_MIB, fig,
                                         verdict(max(v) <= RSS_GROWTH_MIB) if v else "not measured"))
    # The figures above mean something only if the flood really was there.
    worst = []
    for impl in IMPLS:
        for kind in kinds:
            for phase in ("idle_rate", "load_rate"):
                worst += series(data, impl, kind + "_" + phase)
    if worst:
        w = min(worst)
        print("  %-8s %-29s %-40s %s" % (
            "all", "flood rate >= %.0f%% of %.0f/s" % (RATE_REACHED * 100, rate),
            "slowest phase %.0f/s" % w,
            verdict(w >= RATE_REACHED * rate) + ("" if w >= RATE_REACHED * rate else
                                                 " (the flooder, not the daemon, fell short)")))
    return 0 if all(counts[i] == runs for i in IMPLS) else 1


if __name__ == "__main__":
    sys.exit(main())
