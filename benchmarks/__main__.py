"""``python -m benchmarks NAME [options]``: run one benchmark and write its section of RESULTS.md.

``python -m benchmarks NAME --help`` lists a benchmark's options.
"""

from __future__ import annotations

import argparse
import importlib
import logging

BENCHMARKS = {
    "b1": ("benchmarks.b1_prefix", "prefix efficiency: tokens computed vs trie bound vs naive (transformers, vLLM)"),
    "b2": ("benchmarks.b2_wallclock", "wall clock: the project's evaluator vs a naive one, side by side"),
    "b3": ("benchmarks.b3_scaling", "throughput with 1 and 2 actors; the driver's own share of step time"),
    "b4": ("benchmarks.b4_memory", "peak RSS of an engine process for 32, 64 and 128 candidates"),
    "b6": ("benchmarks.b6_racing", "racing with simulated scorers: error rate against delta, evaluations saved"),
}


def main(argv: list[str] | None = None) -> None:
    listing = "\n".join(f"  {name}  {help_text}" for name, (_, help_text) in BENCHMARKS.items())
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__, epilog=f"benchmarks:\n{listing}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("name", choices=sorted(BENCHMARKS))
    parser.add_argument("options", nargs=argparse.REMAINDER, help="the benchmark's own options")
    top = parser.parse_args(argv)
    module_name, help_text = BENCHMARKS[top.name]
    module = importlib.import_module(module_name)
    own = argparse.ArgumentParser(prog=f"python -m benchmarks {top.name}", description=help_text)
    module.add_arguments(own)
    args = own.parse_args(top.options)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    module.main(args)


if __name__ == "__main__":
    main()
