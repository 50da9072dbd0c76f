"""Decoding-parameter tuning (Optuna, seeded TPE) of a search's best demonstration set.

* ``space``: the tuned parameters' ranges and the first trials (the search's own setting, URIAL's two);
* ``prompt``: the prompt tuned for (a search's best set, or an export's) and its prefix tree;
* ``objective``: one trial as one work unit, and its answers as the trial's score;
* ``study``: the Optuna study in the search's own database (names, interrupted trials, best trial, importances);
* ``tuner``: the ask / evaluate-in-parallel / tell loop; ``session``: what ``demo-search tune`` and ``run`` call;
* ``results``: the outcome as stored on the search and as exported.

This package module imports nothing, so reading stored results (``results``) does not import Optuna.
"""
