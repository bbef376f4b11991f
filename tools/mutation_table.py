"""Summarize a ``mutmut run`` (the ``mutants/`` folder it leaves) as docs/testing.md's table.

    python tools/mutation_table.py            # one row per mutated module
    python tools/mutation_table.py --survivors  # also list each surviving mutant's name

Reads the ``*.meta`` files mutmut writes beside each mutated module; ``mutmut show NAME``
prints the diff of one mutant.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

COLUMNS = ["killed", "timeout", "survived", "suspicious", "segfault", "no tests", "not checked"]


def summarize(root: Path):
    """One row per module: how many mutants ended in each of mutmut's verdicts."""
    from mutmut.stats import status_by_exit_code  # mutmut's own reading of the exit codes

    rows, survivors = [], []
    for meta in sorted(root.glob("src/**/*.py.meta")):
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        row = {"module": meta.name[:-5], "mutants": len(codes), **dict.fromkeys(COLUMNS, 0)}
        for name, code in codes.items():
            status = status_by_exit_code[code]
            row[status] = row.get(status, 0) + 1
            if status == "survived":
                survivors.append(name)
        rows.append(row)
    return rows, survivors


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", default="mutants", help="the folder mutmut wrote")
    parser.add_argument("--survivors", action="store_true", help="list surviving mutants")
    args = parser.parse_args()
    rows, survivors = summarize(Path(args.mutants))
    if not rows:
        raise SystemExit(f"No mutmut results under {args.mutants!r}: run `mutmut run` first.")
    keys = ["module", "mutants", *COLUMNS]
    print("| " + " | ".join(keys) + " | killed % |")
    print("|" + "---|" * (len(keys) + 1))
    for row in rows:
        caught = row["killed"] + row["timeout"] + row["suspicious"] + row["segfault"]
        tested = caught + row["survived"]
        share = f"{100 * caught / tested:.1f}" if tested else "-"
        print("| " + " | ".join(str(row[k]) for k in keys) + f" | {share} |")
    if args.survivors:
        print()
        print("\n".join(survivors))


if __name__ == "__main__":
    main()
