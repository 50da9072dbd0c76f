"""Loading the candidate pool and the held-out prompts from JSONL, JSON arrays and URIAL prompt files.

Entry points: :func:`load_pool`, :func:`load_heldout` (both return a :class:`LoadResult` that collects every
problem), and :func:`summarize_lengths` for token-length statistics. Formats are described in
:mod:`demo_search.data.formats`; what counts as an error or a warning in :mod:`demo_search.data.loader`.
"""

from demo_search.data.formats import TURN_MODES, TurnMode
from demo_search.data.lengths import CountTokens, LengthStats, item_tokens, summarize_lengths
from demo_search.data.loader import DATA_FORMATS, DataFormat, load_heldout, load_pool
from demo_search.data.problems import Problem, Severity
from demo_search.data.result import Duplicate, LoadResult, OverBudget

__all__ = [
    "DATA_FORMATS",
    "TURN_MODES",
    "CountTokens",
    "DataFormat",
    "Duplicate",
    "LengthStats",
    "LoadResult",
    "OverBudget",
    "Problem",
    "Severity",
    "TurnMode",
    "item_tokens",
    "load_heldout",
    "load_pool",
    "summarize_lengths",
]
