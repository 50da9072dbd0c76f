"""Write the quickstart's pool and held-out files (examples/quickstart/) from the planted rule tasks.

The held-out prompts follow the target rule; the pool mixes right-rule demonstrations, demonstrations of
every other rule (wrong), and noisy ones (target-rule queries with answers of the wrong shape). A search
should pick right-rule demonstrations at every step. Re-running with the same seed writes the same files.

    python scripts/make_quickstart_data.py [--rule reverse] [--seed 0]
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from demo_search.synthetic import RULES, planted_task, write_task_files

OUT = Path(__file__).resolve().parent.parent / "examples" / "quickstart"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rule", default="upper", choices=sorted(RULES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--right", type=int, default=4, help="right-rule demonstrations in the pool")
    parser.add_argument("--wrong", type=int, default=4, help="demonstrations of each other rule")
    parser.add_argument("--noisy", type=int, default=4, help="target-rule queries with wrong-shaped answers")
    parser.add_argument("--heldout", type=int, default=16)
    args = parser.parse_args()

    pool, heldout = planted_task(
        args.rule, random.Random(args.seed), right=args.right, wrong=args.wrong, noisy=args.noisy,
        heldout=args.heldout,
    )

    write_task_files(OUT, pool, heldout)
    print(f"wrote {len(pool)} pool items and {len(heldout)} held-out prompts (rule {args.rule}) to {OUT}")


if __name__ == "__main__":
    main()
