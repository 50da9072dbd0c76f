"""The export of a stored search as ``demo-search export`` and ``demo_search.export()`` give it: the export
document (:mod:`demo_search.exports`) with the decoding parameters its tuning found (``demo_search.tuning.results``).

It reads only the store, so it needs none of the engine packages.
"""

from __future__ import annotations

from db import Store
from demo_search.exports import ExportDocument, build_export
from demo_search.tuning.results import tuned_best_set


def export_document(store: Store, name: str) -> ExportDocument:
    """The export document of the stored search ``name``, with the decoding its tuning found (if any)."""
    return build_export(store, name, tuned=tuned_best_set(store, name))


__all__ = ["export_document"]
