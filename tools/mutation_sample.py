"""Run mutmut on a seeded random sample of each core module's mutants.

    python tools/mutation_sample.py                  # 40 mutants per module, all modules
    python tools/mutation_sample.py --per-module 80 --modules io,training
    python tools/mutation_table.py --sample mutants/sample.txt   # the table of the sample

The whole run (``mutmut run``, ~6,200 mutants) takes hours on two cores; a sample drawn
with a fixed seed per module estimates each module's kill rate in minutes, and the same
command draws the same sample again. The names go to ``mutants/sample.txt`` (one per line).
Needs the mutants generated once (``mutmut run`` writes them before testing; stop it with
Ctrl-C after "Running mutation testing" starts, or let ``--generate`` do it).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
from pathlib import Path


def sample(meta: Path, k: int) -> list[str]:
    """``k`` mutant names of one module (all when it has fewer), the same for the same k."""
    names = sorted(json.loads(meta.read_text())["exit_code_by_key"])
    module = meta.name[: -len(".py.meta")]
    return sorted(random.Random(f"glassnet-{module}").sample(names, min(k, len(names))))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-module", type=int, default=40)
    parser.add_argument("--modules", default="",
                        help="comma-separated parts of module paths (default: every module)")
    parser.add_argument("--mutants", default="mutants", help="the folder mutmut writes")
    parser.add_argument("--dry-run", action="store_true", help="only write the names")
    args = parser.parse_args()
    root = Path(args.mutants)
    metas = sorted(root.glob("src/**/*.py.meta"))
    wanted = [m for m in args.modules.split(",") if m]
    metas = [m for m in metas if not wanted or any(w in str(m) for w in wanted)]
    if not metas:
        raise SystemExit(f"No mutants under {root}: run `mutmut run` once to generate them "
                         "(--mutants says where they are).")
    names = [name for meta in metas for name in sample(meta, args.per_module)]
    (root / "sample.txt").write_text("\n".join(names) + "\n")
    print(f"{len(names)} mutants in {root / 'sample.txt'}")
    if not args.dry_run:
        sys.exit(subprocess.call(["mutmut", "run", "--max-children", "2", *names]))


if __name__ == "__main__":
    main()
