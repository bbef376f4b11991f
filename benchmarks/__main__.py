"""Run the speed workloads A-H side by side and write benchmarks/RESULTS.md.

    python -m benchmarks [--rounds N] [--workloads ABCDEFGH] [--libraries glassnet,torch,...]

A-E: dense networks (``workloads.py``); F-H: convolutional ones (``conv_workloads.py``).

Each (library, workload) pair runs in its own fresh process; the libraries take
turns within each round, so a busy moment on a shared machine hits all of them.
Reported: the median over rounds, the min-max spread, glassnet's ratio to each
peer (from the medians of the same run), and achieved GFLOP/s against the
float32 matrix-product peak measured in the same run; for F-H also the peak memory of
the epoch (resident set, Linux) beside PyTorch's. Where the time of F-H goes:
``python -m benchmarks.conv_profile``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from .results import write_section
from .workloads import WORKLOADS

HERE = Path(__file__).resolve().parent
BEGIN, END = "<!-- speed:begin -->", "<!-- speed:end -->"
CONV_BEGIN, CONV_END = "<!-- conv-speed:begin -->", "<!-- conv-speed:end -->"
TARGETS = {
    "A": "≤ 0.4× scikit-learn and ≤ 0.75× PyTorch",
    "B": "≤ 0.6× PyTorch",
    "C": "≤ 1.0× PyTorch",
    "D": "≤ 15 µs",
    "E": "≤ +10 MB",
    "F": "≤ 1.0× PyTorch",
    "G": "≤ 1.6× PyTorch",
    "H": "≤ 0.5× PyTorch",
}
#: The convolutional workloads run in glassnet's Sequential and PyTorch only.
CONV_LIBRARIES = ("glassnet", "torch")

PEAK_SNIPPET = """
import time, numpy as np
a = np.random.default_rng(0).random((2048, 2048), dtype=np.float32); c = np.empty_like(a)
np.matmul(a, a, out=c); best = 1e9
for _ in range(5):
    t = time.perf_counter(); np.matmul(a, a, out=c); best = min(best, time.perf_counter() - t)
print(2 * 2048**3 / best / 1e9)
"""


def run_one(library, workload):
    cmd = [sys.executable, "-m", "benchmarks.workloads", library, workload]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=HERE.parent, timeout=600)
    if out.returncode:
        raise RuntimeError(f"{library} {workload} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine_info():
    lines = []
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        keep = ("Model name", "CPU(s):", "Thread(s) per core", "Flags")
        for line in lscpu.splitlines():
            if line.startswith(keep):
                if line.startswith("Flags"):
                    flags = [f for f in line.split() if f.startswith(("avx512f", "avx2", "fma"))]
                    line = "Flags (SIMD): " + " ".join(flags)
                lines.append(line.strip())
    except OSError:
        pass
    try:
        import numpy  # noqa: F401  (loads its BLAS so threadpoolctl can see it)
        from threadpoolctl import threadpool_info

        for pool in threadpool_info():
            lines.append(f"BLAS: {pool.get('internal_api')} {pool.get('version')} "
                         f"({pool.get('threading_layer')}, {pool.get('num_threads')} threads, "
                         f"{pool.get('architecture')})")
    except ImportError:
        pass
    return lines


def fmt_value(workload, value):
    if workload == "D":
        return f"{value * 1e6:.1f} µs"
    if workload == "E":
        return f"+{value:.1f} MB"
    return f"{value:.3f} s"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workloads", default="ABCDE")
    parser.add_argument("--libraries", default="glassnet,glassnet-mlp,sklearn,torch")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    libraries = args.libraries.split(",")
    peaks = []
    samples, memory = {}, {}
    for r in range(args.rounds):
        peaks.append(float(subprocess.run([sys.executable, "-c", PEAK_SNIPPET],
                                          capture_output=True, text=True).stdout))
        for workload in args.workloads:
            for library in libraries:
                if workload in "FGH" and library not in CONV_LIBRARIES:
                    continue
                result = run_one(library, workload)
                key = "extra_mb" if workload == "E" else "seconds"
                samples.setdefault((workload, library), []).append(result[key])
                if "peak_mb" in result:
                    memory.setdefault((workload, library), []).append(
                        (result["peak_mb"], result["epoch_mb"]))
                print(f"round {r + 1}: {workload} {library:13s} "
                      f"{fmt_value(workload, result[key])}", flush=True)
    peak = statistics.median(peaks)
    from .workloads import train_flops

    rows = []
    for workload in args.workloads:
        med = {lib: statistics.median(samples[(workload, lib)]) for lib in libraries
               if (workload, lib) in samples}
        cells = []
        for lib in libraries:
            if lib not in med:
                cells.append("")
                continue
            values = samples[(workload, lib)]
            cell = f"{fmt_value(workload, med[lib])} ({fmt_value(workload, min(values))}–" \
                   f"{fmt_value(workload, max(values))})"
            if workload in "ABC":
                spec = WORKLOADS[workload]
                gflops = train_flops(spec["hidden"], spec["n"]) / med[lib] / 1e9
                cell += f", {gflops:.0f} GFLOP/s"
            cells.append(cell)
        ratios = []
        if workload != "E":
            for peer in ("sklearn", "torch", "glassnet-mlp"):
                if peer in med and "glassnet" in med:
                    ratios.append(f"{med['glassnet'] / med[peer]:.2f}× {peer}")
            if "glassnet-live" in med and "glassnet" in med:  # what watching live costs
                ratios.append(f"LiveView {med['glassnet-live'] / med['glassnet'] - 1:+.1%}")
        rows.append((workload, cells, ", ".join(ratios), TARGETS[workload],
                     memory_cell(workload, libraries, memory)))

    groups = [("ABCDE", BEGIN, END, "## Speed (issue 5)"),
              ("FGH", CONV_BEGIN, CONV_END, "## Speed of convolutional networks (issue 12)")]
    for names, begin, end, title in groups:
        chosen = [row for row in rows if row[0] in names]
        if not chosen:
            continue
        text = section(args, chosen, libraries, peak, begin, end, title)
        print(text)
        if not args.no_write:
            write_section(begin, end, text)


def memory_cell(workload, libraries, memory):
    """Median peak resident set of the epoch per library, and its rise above the start."""
    parts = []
    for lib in libraries:
        if (workload, lib) in memory:
            peak = statistics.median(p for p, _ in memory[(workload, lib)])
            rise = statistics.median(r for _, r in memory[(workload, lib)])
            parts.append(f"{lib} {peak:.0f} MB (+{rise:.0f})")
    return ", ".join(parts)


def section(args, rows, libraries, peak, begin, end, title):
    with_memory = any(row[4] for row in rows)
    header = ["workload", *libraries, "glassnet / peer", "target"] + \
        (["peak memory of the epoch (rise during it)"] if with_memory else [])
    table = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for workload, cells, ratio, target, mem in rows:
        table.append(f"| {workload} | " + " | ".join(cells) + f" | {ratio} | {target} |"
                     + (f" {mem} |" if with_memory else ""))
    return "\n".join([
        begin,
        title,
        "",
        f"Command: `python -m benchmarks --rounds {args.rounds} --workloads {args.workloads} "
        f"--libraries {args.libraries}`, run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "Median over rounds (min–max); ratios are glassnet `Sequential.fit` over the peer, "
        "from the medians of this run.",
        f"float32 matrix-product peak measured in the same run: {peak:.0f} GFLOP/s "
        "(2048×2048 `np.matmul`).",
        "",
        *table,
        "",
        "Machine:",
        "",
        *[f"- {line}" for line in machine_info()],
        end,
    ])


if __name__ == "__main__":
    main()
