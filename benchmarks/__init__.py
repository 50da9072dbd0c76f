"""Benchmarks of demo-search against the prefix-tree bound and a naive evaluator (issue 7).

Run one with ``python -m benchmarks NAME`` (``python -m benchmarks --help`` lists them); each writes its
table into ``benchmarks/RESULTS.md`` with the machine, the command and the date.

* ``b1``: prefix efficiency: tokens computed vs the trie bound vs the naive total (transformers and vLLM).
* ``b2``: wall clock of the project's evaluator vs a naive one that sends every full prompt independently.
* ``b3``: throughput with 1 and 2 actors, and the driver's own share of a step's time.
* ``b4``: peak RSS of an engine process for 32, 64 and 128 candidates.
"""
