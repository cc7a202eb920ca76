#!/usr/bin/python3
"""Summarise a bench/scaling.sh output directory: OUT/scaling.tsv -> OUT/scaling.md and
OUT/scaling-{rps,cpu,rss}.png (bench/plot.py); prints the table.

Usage: scaling_report.py OUT
Standard library only.
"""
import csv
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def num(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, spec, unit=""):
    return "—" if x is None else format(x, spec) + unit


def main():
    out = os.path.abspath(sys.argv[1])
    with open(os.path.join(out, "scaling.tsv")) as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    backends = []
    for r in rows:
        if r["backend"] not in backends:
            backends.append(r["backend"])
    conns = sorted({int(r["conns"]) for r in rows})
    rounds = len({r["round"] for r in rows})

    agg = {}
    for be in backends:
        for n in conns:
            rr = [r for r in rows if r["backend"] == be and int(r["conns"]) == n]
            if not rr:
                continue
            rps = [num(r["rps"]) for r in rr]
            ok = [x for x in rps if x is not None]
            agg[be, n] = {
                "rps": med(rps),
                "rng": (min(ok), max(ok)) if len(ok) > 1 else None,
                "p50": med(num(r["p50_us"]) for r in rr),
                "p99": med(num(r["p99_us"]) for r in rr),
                "rss_idle": med(num(r["rss_idle_kb"]) for r in rr),
                "peak": max((num(r["peak_rss_kb"]) or 0) for r in rr),
                "cpu": med(num(r["cpu_us_per_req"]) for r in rr),
                "srv": med(num(r["srv_cpu_pct"]) for r in rr),
                "wrk": med(num(r["wrk_cpu_pct"]) for r in rr),
                "idle": f"{min(int(num(r['idle_opened']) or 0) for r in rr)}/{rr[0]['idle_wanted']}",
                "alive": ",".join(sorted({r["idle_alive_after"] for r in rr if r["idle_alive_after"]})) or "—",
                "socks": med(num(r["server_sockets"]) for r in rr),
                "epfd": ",".join(sorted({r["eventpoll_fds"] for r in rr})),
                "errs": sum(int(num(r["errors"]) or 0) for r in rr),
                "notes": sorted({r["note"] for r in rr if r["note"]}),
            }

    md = [f"# muxserve connection scaling: {os.path.basename(out)}", ""]
    info = os.path.join(out, "run-info.txt")
    if os.path.exists(info):
        md += ["```", open(info).read().rstrip(), "```", ""]
    md += [
        "N open connections = N−64 idle keep-alive connections (each made one request, then went quiet)",
        "plus wrk -t1 -c64 on the 100 B file (-cN when N < 64). "
        + (f"Medians of {rounds} interleaved rounds; [min–max] req/s in brackets. " if rounds > 1 else "")
        + "**CPU µs/req** = server user+system CPU during the wrk run ÷ requests; **RSS idle** = VmRSS with",
        "all connections open, before wrk; **peak** = VmHWM at the end. **idle** = idle connections opened /",
        "wanted; **alive** = how many the server still held after the run; **epoll fds** = the server's",
        "anon_inode:[eventpoll] descriptors (1 for the epoll build, 0 proves the poll build).",
        "",
        "| backend | conns | req/s | p50 | p99 | CPU µs/req | server CPU | wrk CPU | RSS idle | peak RSS | idle | alive | server sockets | epoll fds | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|---|",
    ]
    for be in backends:
        for n in conns:
            a = agg.get((be, n))
            if not a:
                continue
            rps = fmt(a["rps"], ",.0f")
            if a["rng"]:
                rps += f" [{a['rng'][0]:,.0f}–{a['rng'][1]:,.0f}]"
            errs = f"⚠ {a['errs']:,}" if a["errs"] else "0"
            if a["notes"]:
                errs += " (" + "; ".join(a["notes"]) + ")"
            md.append(
                f"| {be} | {n:,} | {rps} | {fmt(a['p50'] and a['p50'] / 1000, '.2f', ' ms')} | "
                f"{fmt(a['p99'] and a['p99'] / 1000, '.2f', ' ms')} | {fmt(a['cpu'], '.1f')} | "
                f"{fmt(a['srv'], '.0f', ' %')} | {fmt(a['wrk'], '.0f', ' %')} | "
                f"{fmt(a['rss_idle'] and a['rss_idle'] / 1024, '.1f', ' MiB')} | "
                f"{fmt(a['peak'] and a['peak'] / 1024, '.1f', ' MiB')} | {a['idle']} | {a['alive']} | "
                f"{fmt(a['socks'], '.0f')} | {a['epfd']} | {errs} |")
    md.append("")
    if len(backends) > 1 and "epoll" in backends:
        md += ["| conns | " + " | ".join(f"{be} ÷ epoll req/s | {be} ÷ epoll CPU/req" for be in backends if be != "epoll") + " |",
               "|---:|" + "---:|---:|" * (len(backends) - 1)]
        for n in conns:
            e = agg.get(("epoll", n))
            cells = []
            for be in backends:
                if be == "epoll":
                    continue
                o = agg.get((be, n))
                rr = o["rps"] / e["rps"] if e and o and e["rps"] and o["rps"] else None
                cr = o["cpu"] / e["cpu"] if e and o and e["cpu"] and o["cpu"] else None
                cells += [fmt(rr, ".2f", "×"), fmt(cr, ".2f", "×")]
            md.append(f"| {n:,} | " + " | ".join(cells) + " |")
        md.append("")

    charts = []
    for metric, key, ylabel, scale in (("rps", "rps", "requests/s (median)", 1),
                                       ("cpu", "cpu", "server CPU µs per request", 1),
                                       ("rss", "rss_idle", "server RSS with all connections open, MiB", 1 / 1024)):
        dat = os.path.join(out, f"scaling-{metric}.tsv")
        with open(dat, "w") as f:
            f.write("connections\t" + "\t".join(backends) + "\n")
            for n in conns:
                vals = []
                for be in backends:
                    v = agg.get((be, n), {}).get(key)
                    vals.append("?" if v is None else f"{v * scale:.3f}")
                f.write(f"{n}\t" + "\t".join(vals) + "\n")
        png = os.path.join(out, f"scaling-{metric}.png")
        cmd = [sys.executable, os.path.join(HERE, "plot.py"), "lines", dat, png, "--logx",
               "--title", f"muxserve: {ylabel} vs open connections (wrk -c64 + idle)",
               "--xlabel", "open connections", "--ylabel", ylabel]
        if subprocess.run(cmd).returncode == 0 and os.path.exists(png):
            charts.append(f"![{metric}]({os.path.basename(png)})")
    table = list(md)
    md += charts + [""]
    with open(os.path.join(out, "scaling.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    print("\n".join(table))


if __name__ == "__main__":
    main()
