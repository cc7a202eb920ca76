#!/usr/bin/python3
"""Charts for bench/run.sh and bench/scaling.sh, with gnuplot if installed, else matplotlib.

  plot.py bars  DATA.tsv OUT.png [--title T] [--ylabel Y] [--log]
      grouped bars; DATA: header "label<TAB>series1<TAB>series2...", one row per group,
      "?" for a missing value
  plot.py lines DATA.tsv OUT.png [--title T] [--xlabel X] [--ylabel Y] [--logx] [--logy]
      one line per column; DATA: header "x<TAB>series1...", one row per numeric x

Exits 0 without a chart (and says so on stderr) when neither tool is available: the reports
do not depend on it. Standard library only (matplotlib optional).
"""
import argparse
import os
import shutil
import subprocess
import sys


def read(path):
    with open(path) as f:
        rows = [l.rstrip("\n").split("\t") for l in f if l.strip()]
    head, body = rows[0], rows[1:]
    return head, body


def gq(s):
    return "'" + s.replace("'", "''") + "'"


def gnuplot(kind, a, head, body):
    n = len(head)
    lines = [
        "set terminal pngcairo size 1100,600 noenhanced font 'sans,10'",
        f"set output {gq(a.out)}",
        "set datafile separator '\\t'",
        "set datafile missing '?'",
        f"set title {gq(a.title or '')}",
        f"set ylabel {gq(a.ylabel or '')}",
        "set grid ytics",
        "set key outside right top",
    ]
    if kind == "bars":
        lines += [
            "set style data histograms",
            "set style histogram clustered gap 1",
            "set style fill solid 0.85 border -1",
            "set boxwidth 0.9",
            "set yrange [1:*]" if a.log else "set yrange [0:*]",
        ]
        if a.log:
            lines.append("set logscale y")
        lines.append(f"plot for [i=2:{n}] {gq(a.data)} using i:xtic(1) title columnheader(i)")
    else:
        lines.append(f"set xlabel {gq(a.xlabel or '')}")
        xs = [float(r[0]) for r in body]
        if a.logx:
            lines.append("set logscale x")
            lines.append(f"set xrange [{min(xs) / 1.5}:{max(xs) * 1.5}]")
        if a.logy:
            lines.append("set logscale y")
        else:
            lines.append("set yrange [0:*]")
        lines.append("set xtics (" + ", ".join(f"'{r[0]}' {r[0]}" for r in body) + ")")
        lines.append(f"plot for [i=2:{n}] {gq(a.data)} using 1:i with linespoints lw 2 pt 7 title columnheader(i)")
    r = subprocess.run(["gnuplot"], input="\n".join(lines) + "\n", text=True,
                       capture_output=True)
    if r.returncode != 0:
        sys.stderr.write(r.stderr)
    return r.returncode == 0


def matplotlib(kind, a, head, body):
    import matplotlib as mpl
    mpl.use("Agg")
    import matplotlib.pyplot as plt

    def val(x):
        try:
            return float(x)
        except ValueError:
            return float("nan")

    fig, ax = plt.subplots(figsize=(11, 6))
    series = head[1:]
    if kind == "bars":
        groups = [r[0] for r in body]
        width = 0.8 / max(1, len(series))
        for j, s in enumerate(series):
            xs = [i + (j - (len(series) - 1) / 2) * width for i in range(len(groups))]
            ax.bar(xs, [val(r[j + 1]) for r in body], width, label=s)
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels(groups)
        if a.log:
            ax.set_yscale("log")
    else:
        xs = [val(r[0]) for r in body]
        for j, s in enumerate(series):
            ax.plot(xs, [val(r[j + 1]) for r in body], marker="o", label=s)
        if a.logx:
            ax.set_xscale("log")
        if a.logy:
            ax.set_yscale("log")
        else:
            ax.set_ylim(bottom=0)
        ax.set_xticks(xs)
        ax.set_xticklabels([r[0] for r in body])
        ax.set_xlabel(a.xlabel or "")
    ax.set_title(a.title or "")
    ax.set_ylabel(a.ylabel or "")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    fig.savefig(a.out, dpi=100)
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=("bars", "lines"))
    ap.add_argument("data")
    ap.add_argument("out")
    ap.add_argument("--title")
    ap.add_argument("--xlabel")
    ap.add_argument("--ylabel")
    ap.add_argument("--log", action="store_true")
    ap.add_argument("--logx", action="store_true")
    ap.add_argument("--logy", action="store_true")
    a = ap.parse_args()
    head, body = read(a.data)
    if not body:
        print(f"plot.py: {a.data} has no data; no chart", file=sys.stderr)
        return 0
    if shutil.which("gnuplot"):
        ok = gnuplot(a.kind, a, head, body)
    else:
        try:
            ok = matplotlib(a.kind, a, head, body)
        except ImportError:
            print("plot.py: neither gnuplot nor matplotlib is installed; no chart "
                  "(apt-get install gnuplot-nox)", file=sys.stderr)
            return 0
    if not ok or not os.path.exists(a.out):
        print(f"plot.py: chart {a.out} failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
