"""Errors of decoding tuning."""

from __future__ import annotations

from demo_search.errors import DemoSearchError


class TuningError(DemoSearchError):
    """Decoding tuning cannot start, or its trials keep failing."""


class DecodingIrrelevantError(TuningError):
    """The search's scorer reads log-likelihoods (``loglik``), not generated text: decoding cannot change a score."""
