#!/usr/bin/python3
"""Summarise a bench/run.sh output directory: OUT/anchor (the shared harness's results) plus the
SRVCPU lines the wrk shim appended to each raw wrk output. Writes OUT/report.md, OUT/summary.tsv,
chart data and PNGs (bench/plot.py), and prints the summary tables.

Usage: report.py OUT [--subject muxserve]
Standard library only.
"""
import argparse
import csv
import os
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

SCEN = {
    "a": ("ka-small", "keep-alive, 100 B, -c64"),
    "b": ("ka-64k", "keep-alive, 64 KiB, -c64"),
    "c": ("big-10m", "keep-alive, 10 MiB, -c8"),
    "d": ("close-small", "Connection: close, 100 B, -c64"),
    "e": ("c1000-small", "keep-alive, 100 B, -c1000"),
    "f": ("site-mix", "keep-alive, a site's mix (304s, ranges, 404s), -c256"),
}
ERR_COLS = ("connect_err", "read_err", "write_err", "timeout_err", "non2xx")


def num(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def kv_line(path, prefix):
    """The last line of `path` starting with `prefix`, as a dict of its key=value words."""
    try:
        lines = [l for l in open(path, errors="replace") if l.startswith(prefix)]
    except OSError:
        return None
    if not lines:
        return None
    return dict(w.split("=", 1) for w in lines[-1].split()[1:] if "=" in w)


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def f_rps(x):
    return "—" if x is None else f"{x:,.0f}"


def f_us(x):
    if x is None:
        return "—"
    if x >= 1e6:
        return f"{x / 1e6:.2f} s"
    if x >= 1000:
        return f"{x / 1000:.2f} ms"
    return f"{x:.0f} µs"


def f_cpu(x):
    if x is None:
        return "—"
    return f"{x:.1f}" if x >= 10 else f"{x:.2f}"


def f_mib(kb):
    return "—" if not kb else f"{kb / 1024:.1f} MiB"


def f_ratio(x):
    return "—" if x is None else f"{x:.2f}×"


def load(out):
    anchor = os.path.join(out, "anchor")
    with open(os.path.join(anchor, "results.tsv")) as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    # harness log: "<tag>: port <port> pid <pid>: ..." -> pid of the server it started
    started = {}
    try:
        for line in open(os.path.join(anchor, "bench.log"), errors="replace"):
            m = re.search(r"\] (\S+): port (\d+) pid (\d+):", line)
            if m:
                started[m.group(1)] = int(m.group(3))
    except OSError:
        pass
    for r in rows:
        tag = f"{r['mode']}-{r['server']}-{r['scenario']}-{r['round']}"
        r["tag"] = tag
        cpu = kv_line(os.path.join(anchor, "raw", f"{tag}.txt"), "SRVCPU")
        r["cpu_us_per_req"] = None
        r["wrk_cpu_pct"] = None
        r["srv_cpu_pct"] = None
        r["cpu_note"] = ""
        reqs = num(r.get("requests"))
        if cpu is None:
            r["cpu_note"] = "no SRVCPU line"
        elif "error" in cpu:
            r["cpu_note"] = cpu["error"]
        else:
            ticks, hz, wall = int(cpu["ticks"]), int(cpu["clk_tck"]), int(cpu["wall_us"])
            if tag in started and int(cpu["sid"]) != started[tag]:
                r["cpu_note"] = f"session {cpu['sid']} != harness pid {started[tag]}"
            if reqs:
                r["cpu_us_per_req"] = ticks / hz * 1e6 / reqs
            r["srv_cpu_pct"] = ticks / hz * 1e6 / wall * 100
            r["wrk_cpu_pct"] = (int(cpu["wrk_utime_us"]) + int(cpu["wrk_stime_us"])) / wall * 100
            r["procs"] = cpu["procs"]
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--subject", default="muxserve")
    a = ap.parse_args()
    out = os.path.abspath(a.out)
    subject = a.subject
    rows = load(out)

    servers = []
    for r in rows:
        if r["server"] not in servers:
            servers.append(r["server"])
    baseline = f"{subject}-base"
    anchors = [s for s in servers
               if s not in (subject, baseline) and not s.startswith(("ceiling", "python"))]
    modes = [m for m in ("unpinned", "pinned") if any(r["mode"] == m for r in rows)]
    scen = [k for k in SCEN if any(r["scenario"] == k for r in rows)]

    # summary.tsv: one line per run, with the CPU figures
    cols = ["mode", "round", "server", "scenario", "requests", "rps", "p50_us", "p99_us",
            "peak_rss_kb", "cpu_us_per_req", "srv_cpu_pct", "wrk_cpu_pct", "procs_threads",
            *ERR_COLS, "note", "cpu_note"]
    with open(os.path.join(out, "summary.tsv"), "w") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        w.writerow(cols)
        for r in rows:
            w.writerow(["" if r.get(c) is None else (f"{r[c]:.3f}" if isinstance(r[c], float) else r[c])
                        for c in cols])

    def cell(mode, sc, s):
        rr = [r for r in rows if r["mode"] == mode and r["scenario"] == sc and r["server"] == s]
        if not rr:
            return None
        rps = [num(r["rps"]) for r in rr]
        ok = [x for x in rps if x is not None]
        errs = sum(int(num(r.get(c)) or 0) for r in rr for c in ERR_COLS)
        notes = sorted({n for r in rr for n in (r.get("note"), r.get("cpu_note")) if n})
        return {
            "n": len(ok),
            "rps": med(rps),
            "rng": (min(ok), max(ok)) if len(ok) > 1 else None,
            "p50": med(num(r["p50_us"]) for r in rr),
            "p99": med(num(r["p99_us"]) for r in rr),
            "rss": max((num(r["peak_rss_kb"]) or 0) for r in rr),
            "cpu": med(r["cpu_us_per_req"] for r in rr),
            "wrk": med(r["wrk_cpu_pct"] for r in rr),
            "srv": med(r["srv_cpu_pct"] for r in rr),
            "errs": errs,
            "notes": notes,
            "by_round": {r["round"]: r for r in rr},
        }

    def paired(mode, sc, key, best):
        """Per round: subject / best anchor of that round; the range over rounds."""
        rounds = sorted({r["round"] for r in rows if r["mode"] == mode and r["scenario"] == sc})
        vals = []
        for rd in rounds:
            def get(s):
                r = next((r for r in rows if r["mode"] == mode and r["scenario"] == sc
                          and r["server"] == s and r["round"] == rd), None)
                if r is None:
                    return None
                return num(r["rps"]) if key == "rps" else r["cpu_us_per_req"]
            mine = get(subject)
            theirs = [v for v in (get(s) for s in anchors) if v]
            if mine and theirs:
                vals.append(mine / best(theirs))
        return (min(vals), max(vals)) if len(vals) > 1 else None

    md = []
    p = md.append
    p(f"# muxserve benchmark: {os.path.basename(out)}")
    p("")
    for fn in ("run-info.txt",):
        fp = os.path.join(out, fn)
        if os.path.exists(fp):
            p("```")
            p(open(fp).read().rstrip())
            p("```")
            p("")
    mi = os.path.join(out, "anchor", "machine.md")
    if os.path.exists(mi):
        p(open(mi).read().rstrip())
        p("")
    p("Medians over the repeats ([min–max] req/s when there are several); p50/p99 are medians of")
    p("each run's wrk percentiles; peak RSS is the largest VmHWM sum over the server's processes;")
    p("**CPU µs/req** = server user+system CPU time during the wrk run (all processes and threads of")
    p("the server) ÷ requests completed; **server CPU** and **wrk CPU** = CPU time ÷ wall time of the run")
    p("(100 % = one core of 2; wrk near 100 % means wrk, not the server, was the limit), measured by")
    p("bench/wrk_cpu_shim.py (`SRVCPU` lines in anchor/raw/). Quote ratios between servers of the same run,")
    p("not absolute numbers (bench/BENCHMARKS.md). The harness's full report (p90, max, transfer/s,")
    p("headers, configs) is [anchor/report.md](anchor/report.md).")
    p("")

    summary_lines = []
    for mode in modes:
        title = f"## {mode}" + (" (server on CPU 1, wrk on CPU 0)" if mode == "pinned" else " (no CPU pinning)")
        sec = [title, ""]
        sec.append("| scenario | server | req/s | p50 | p99 | peak RSS | CPU µs/req | server CPU | wrk CPU | errors |")
        sec.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
        for sc in scen:
            for s in servers:
                c = cell(mode, sc, s)
                if c is None:
                    continue
                rps = "FAILED" if c["rps"] is None else f_rps(c["rps"])
                if c["rng"]:
                    rps += f" [{c['rng'][0]:,.0f}–{c['rng'][1]:,.0f}]"
                name = f"**{s}**" if s == subject else s
                errs = f"⚠ {c['errs']:,}" if c["errs"] else "0"
                if c["notes"]:
                    errs += " (" + "; ".join(c["notes"]) + ")"
                pct = lambda x: "—" if x is None else f"{x:.0f} %"
                sec.append(f"| {sc}) {SCEN[sc][0]} | {name} | {rps} | {f_us(c['p50'])} | {f_us(c['p99'])} | "
                           f"{f_mib(c['rss'])} | {f_cpu(c['cpu'])} | {pct(c['srv'])} | {pct(c['wrk'])} | {errs} |")
        if baseline in servers:
            sec.append("")
            sec.append(f"### {mode}: {subject} against {baseline} (the same server, another build)")
            sec.append("")
            sec.append("Median over rounds of the ratio taken round by round, [min–max]; CPU below 1 is better.")
            sec.append("")
            sec.append(f"| scenario | {subject} ÷ {baseline} req/s | {subject} ÷ {baseline} CPU µs/req |")
            sec.append("|---|---:|---:|")
            for sc in scen:
                cols = []
                for key in ("rps", "cpu"):
                    vals = []
                    for rd in sorted({r["round"] for r in rows if r["mode"] == mode and r["scenario"] == sc}):
                        def get(s):
                            r = next((r for r in rows if r["mode"] == mode and r["scenario"] == sc
                                      and r["server"] == s and r["round"] == rd), None)
                            return None if r is None else (num(r["rps"]) if key == "rps" else r["cpu_us_per_req"])
                        mine, base = get(subject), get(baseline)
                        if mine and base:
                            vals.append(mine / base)
                    cols.append(f"{statistics.median(vals):.3f} [{min(vals):.3f}–{max(vals):.3f}]" if vals else "—")
                sec.append(f"| {sc}) {SCEN[sc][0]} | {cols[0]} | {cols[1]} |")
        sec.append("")
        sec.append(f"### {mode}: {subject} against the best other server (nginx, lighttpd, h2o, sws) and the ceiling")
        sec.append("")
        sec.append("Ratios of medians; in brackets the range of the same ratio taken round by round (servers of")
        sec.append("one round ran back to back, so that pairing removes most of the machine's drift).")
        sec.append("")
        sec.append(f"| scenario | best req/s | {subject} ÷ best req/s | best CPU µs/req | {subject} ÷ best CPU/req | {subject} ÷ ceiling1 req/s |")
        sec.append("|---|---|---:|---|---:|---:|")
        for sc in scen:
            me = cell(mode, sc, subject)
            others = {s: cell(mode, sc, s) for s in anchors}
            others = {s: c for s, c in others.items() if c}
            if not me or not others:
                continue
            r_ok = {s: c["rps"] for s, c in others.items() if c["rps"]}
            c_ok = {s: c["cpu"] for s, c in others.items() if c["cpu"]}
            best_r = max(r_ok, key=r_ok.get) if r_ok else None
            best_c = min(c_ok, key=c_ok.get) if c_ok else None
            rr = me["rps"] / r_ok[best_r] if best_r and me["rps"] else None
            cr = me["cpu"] / c_ok[best_c] if best_c and me["cpu"] else None
            pr = paired(mode, sc, "rps", max)
            pc = paired(mode, sc, "cpu", min)
            ceil = cell(mode, sc, "ceiling1")
            cl = me["rps"] / ceil["rps"] if ceil and ceil["rps"] and me["rps"] else None
            sec.append(
                f"| {sc}) {SCEN[sc][0]} | {best_r or '—'} {f_rps(r_ok.get(best_r))} | {f_ratio(rr)}"
                + (f" [{pr[0]:.2f}–{pr[1]:.2f}]" if pr else "")
                + f" | {best_c or '—'} {f_cpu(c_ok.get(best_c))} | {f_ratio(cr)}"
                + (f" [{pc[0]:.2f}–{pc[1]:.2f}]" if pc else "")
                + f" | {f_ratio(cl)} |")
        sec.append("")
        sec.append("req/s > 1× and CPU/req < 1× favour muxserve.")
        sec.append("")

        # charts: rps and CPU/request per scenario and server
        charts = []
        for metric, key, ylabel, log in (("rps", "rps", "requests/s (median)", True),
                                         ("cpu", "cpu", "server CPU µs per request (median)", True)):
            dat = os.path.join(out, f"{metric}-{mode}.tsv")
            with open(dat, "w") as f:
                f.write("scenario\t" + "\t".join(servers) + "\n")
                for sc in scen:
                    vals = []
                    for s in servers:
                        c = cell(mode, sc, s)
                        v = c[key] if c else None
                        vals.append("?" if v is None else f"{v:.3f}")
                    f.write(f"{sc}) {SCEN[sc][0]}\t" + "\t".join(vals) + "\n")
            png = os.path.join(out, f"{metric}-{mode}.png")
            cmd = [sys.executable, os.path.join(HERE, "plot.py"), "bars", dat, png,
                   "--title", f"{ylabel.split(' (')[0]}, {mode}", "--ylabel", ylabel] + (["--log"] if log else [])
            if subprocess.run(cmd).returncode == 0 and os.path.exists(png):
                charts.append(f"![{metric} {mode}]({os.path.basename(png)})")
        if charts:
            sec.extend(charts)
            sec.append("")
        md.extend(sec)
        summary_lines.extend(l for l in sec if not l.startswith("!["))

    with open(os.path.join(out, "report.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    print("\n".join(summary_lines))


if __name__ == "__main__":
    main()
