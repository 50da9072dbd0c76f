"""The evaluation ledger: never pay twice for the same evaluation.

An evaluation's result is decided by its *content*, not by which search asked for it: the model, the exact token
ids of the prompt (and of the reference, when scoring it), the held-out prompt it answers (its id hashes its query,
reference and category), the decoding parameters, and the scorer. Its **content key** is the SHA-256 of those:

* the *scope* (:func:`ledger_scope`): the configuration's fingerprint parts of ``model.*`` (a local model by its
  contents, a hub id with its revision, engine, dtype, context window) and ``scorer.*`` (kind and settings, a
  judge's or reward model, a custom function's name and version), the template kind and chat template (they decide
  the stop rules), and demo-search's version (its judge prompts and scorers' code);
* the unit's kind (``score`` or ``generate``) and decoding parameters (stop strings and seed included);
* the request's whole token ids and the held-out prompt's id;
* when sampling (temperature > 0), the branch id too: a seeded request's random stream depends on it. A sampled
  request without a seed is never reused (it is not reproducible).

Before a unit is dispatched, :meth:`EvaluationLedger.split` looks its leaves up: those found are stored for the
search at once, as ``reused`` evaluations (no tokens computed, no judge called), and the unit goes out with the
other leaves only (or not at all). A computed evaluation without an error is added to the ledger
(:meth:`EvaluationLedger.remember`). So a second search on the same data with one more pool item computes only
that item's pairs, and a resumed or repeated step computes nothing twice. ``strategy.reuse_evaluations: false``
turns it off (:class:`NoLedger`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Mapping, Sequence

from db import Evaluation, LedgerEntry, Store
from demo_search.config import Fingerprint, SearchConfig, compute_fingerprint
from demo_search.search.progress import ProgressSink
from demo_search.version import __version__
from workers.tree import PrefixTree
from workers.units import WorkUnit

logger = logging.getLogger(__name__)

SCOPE_KEYS = ("model.", "scorer.", "template.kind", "template.chat_template")
"""The fingerprint parts (by key prefix) that decide an evaluation besides its prompt ids and decoding."""


def ledger_scope(fingerprint: Fingerprint) -> str:
    """The digest of the scope of a search's content keys (see the module docstring)."""
    parts = {key: value for key, value in fingerprint.parts.items() if key.startswith(SCOPE_KEYS)}
    return _digest({"demo_search": __version__, "parts": parts})


def _digest(value: object) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class NoLedger:
    """Reuse turned off: every unit is dispatched whole, nothing is remembered."""

    def split(
        self, units: Sequence[WorkUnit], set_keys: Mapping[str, str]
    ) -> tuple[list[WorkUnit], list[list[Evaluation]]]:
        """``units`` unchanged, and nothing reused (see :meth:`EvaluationLedger.split`)."""
        return list(units), []

    def remember(self, unit_id: str, rows: Sequence[Evaluation]) -> None:
        """Nothing (see :meth:`EvaluationLedger.remember`)."""

    def reuse(
        self, name: str, units: Sequence[WorkUnit], set_keys: Mapping[str, str], progress: ProgressSink
    ) -> list[WorkUnit]:
        """``units`` unchanged (see :meth:`EvaluationLedger.reuse`)."""
        return list(units)


class EvaluationLedger(NoLedger):
    """The ledger of ``store`` for content keys of ``scope`` (:func:`ledger_scope`)."""

    def __init__(self, store: Store, scope: str) -> None:
        self.store = store
        self.scope = scope
        self._keys: dict[str, dict[str, str]] = {}
        """The content keys of the leaves of each dispatched unit, by unit id, then leaf id."""

    def split(
        self, units: Sequence[WorkUnit], set_keys: Mapping[str, str]
    ) -> tuple[list[WorkUnit], list[list[Evaluation]]]:
        """The units still to dispatch, without their leaves the ledger holds, and per unit that had any, the
        evaluations reused for them (to store under the unit's set key, ``set_keys[unit_id]``)."""
        keys = {unit.unit_id: self.content_keys(unit) for unit in units}
        found = self.store.ledger_entries(key for unit_keys in keys.values() for key in unit_keys.values())
        remaining, reused = [], []
        for unit in units:
            unit_keys = keys[unit.unit_id]
            hits = {leaf_id: found[key] for leaf_id, key in unit_keys.items() if key in found}
            if hits:
                reused.append([_reused(set_keys[unit.unit_id], leaf_id, entry) for leaf_id, entry in hits.items()])
            leaves = tuple(leaf for leaf in unit.tree.leaves if leaf.leaf_id not in hits)
            if leaves:
                tree = PrefixTree(unit.tree.prefix_ids, unit.tree.branches, leaves)
                remaining.append(dataclasses.replace(unit, tree=tree) if hits else unit)
                self._keys[unit.unit_id] = unit_keys
        return remaining, reused

    def reuse(
        self, name: str, units: Sequence[WorkUnit], set_keys: Mapping[str, str], progress: ProgressSink
    ) -> list[WorkUnit]:
        """Store for search ``name`` the evaluations the ledger holds for ``units`` (each unit's under its set key,
        ``set_keys[unit_id]``), tell ``progress`` of each unit it answered whole, and return the units still to
        dispatch (:meth:`split`)."""
        remaining, reused = self.split(units, set_keys)
        for rows in reused:
            self.store.record_evaluations(name, rows)
        for _ in range(len(units) - len(remaining)):
            progress.unit_done(0, 0, ok=True)
        if reused:
            logger.info("%d evaluation(s) reused from the ledger", sum(len(rows) for rows in reused))
        return remaining

    def remember(self, unit_id: str, rows: Sequence[Evaluation]) -> None:
        """Add the computed evaluations of a dispatched unit, those without an error, to the ledger."""
        keys = self._keys.pop(unit_id, {})
        self.store.remember(
            LedgerEntry(keys[row.prompt_id], row.score, row.output, row.detail, row.prompt_tokens)
            for row in rows
            if row.error is None and row.prompt_id in keys
        )

    def content_keys(self, unit: WorkUnit) -> dict[str, str]:
        """The content key of each leaf of ``unit`` (one branch per unit), by leaf id; none for a sampled unit
        without a seed."""
        params = unit.params
        sampled = params is not None and params.temperature > 0
        if sampled and params.seed is None:
            return {}
        decoding = None if params is None else dataclasses.asdict(params)
        (branch,) = unit.tree.branches
        return {
            leaf.leaf_id: _digest([
                self.scope, unit.kind, decoding, leaf.leaf_id, branch.branch_id if sampled else None,
                list(unit.tree.full_prompt(branch, leaf, with_target=unit.kind == "score")),
            ])
            for leaf in unit.tree.leaves
        }


def _reused(set_key: str, prompt_id: str, entry: LedgerEntry) -> Evaluation:
    return Evaluation(set_key, prompt_id, entry.score, output=entry.output, detail=entry.detail,
                      prompt_tokens=entry.prompt_tokens, reused=True)


def open_ledger(store: Store, config: SearchConfig, fingerprint: Fingerprint | None = None) -> NoLedger:
    """The ledger of ``store`` that a search or tuning run of ``config`` uses (``fingerprint``: ``config``'s, if
    already computed); :class:`NoLedger` when ``strategy.reuse_evaluations`` is off."""
    if not config.strategy.reuse_evaluations:
        return NoLedger()
    return EvaluationLedger(store, ledger_scope(fingerprint or compute_fingerprint(config)))


__all__ = ["EvaluationLedger", "NoLedger", "ledger_scope", "open_ledger"]
