"""Summarize a ``mutmut run`` (the ``mutants/`` folder it leaves) as docs/testing.md's table.

    python tools/mutation_table.py                       # one row per mutated module
    python tools/mutation_table.py --survivors           # also list each surviving mutant
    python tools/mutation_table.py --sample mutants/sample.txt \\
        --equivalent docs/mutation_equivalent.txt        # a sample, equivalents set apart

Reads the ``*.meta`` files mutmut writes beside each mutated module; ``mutmut show NAME``
prints the diff of one mutant. ``--equivalent`` names mutants that change no behaviour (one
per line, the name first, then why): they are counted apart, and "killed %" is of the rest.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

COLUMNS = ["killed", "timeout", "survived", "equivalent", "suspicious", "segfault", "no tests",
           "not checked"]


def names_in(path):
    """The first word of each non-empty, non-comment line of ``path`` (None: no file)."""
    if path is None:
        return None
    lines = Path(path).read_text().splitlines()
    return {line.split()[0] for line in lines if line.strip() and not line.startswith("#")}


def summarize(root: Path, sample=None, equivalent=frozenset()):
    """One row per module: how many mutants ended in each of mutmut's verdicts."""
    from mutmut.stats import status_by_exit_code  # mutmut's own reading of the exit codes

    rows, survivors = [], []
    for meta in sorted(root.glob("src/**/*.py.meta")):
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        module = str(meta.relative_to(root / "src" / "glassnet"))[: -len(".meta")]
        if sample is not None:
            codes = {k: v for k, v in codes.items() if k in sample}
        row = {"module": module, "mutants": len(codes), **dict.fromkeys(COLUMNS, 0)}
        for name, code in codes.items():
            status = status_by_exit_code[code]
            if status == "survived" and name in equivalent:
                status = "equivalent"
            row[status] = row.get(status, 0) + 1
            if status == "survived":
                survivors.append(name)
        if row["mutants"]:
            rows.append(row)
    return rows, survivors


def share(row):
    caught = row["killed"] + row["timeout"] + row["suspicious"] + row["segfault"]
    tested = caught + row["survived"]
    return f"{100 * caught / tested:.1f}" if tested else "-"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", default="mutants", help="the folder mutmut wrote")
    parser.add_argument("--sample", help="count only the mutants named in this file")
    parser.add_argument("--equivalent", help="a file naming the equivalent mutants")
    parser.add_argument("--survivors", action="store_true", help="list surviving mutants")
    args = parser.parse_args()
    rows, survivors = summarize(Path(args.mutants), names_in(args.sample),
                                names_in(args.equivalent) or frozenset())
    if not rows:
        raise SystemExit(f"No mutmut results under {args.mutants!r}: run `mutmut run` first.")
    keys = ["module", "mutants", *COLUMNS]
    print("| " + " | ".join(keys) + " | killed % |")
    print("|" + "---|" * (len(keys) + 1))
    total = {"module": "**all**", **{k: sum(r[k] for r in rows) for k in keys[1:]}}
    for row in [*rows, total]:
        print("| " + " | ".join(str(row[k]) for k in keys) + f" | {share(row)} |")
    if args.survivors:
        print()
        print("\n".join(survivors))


if __name__ == "__main__":
    main()
