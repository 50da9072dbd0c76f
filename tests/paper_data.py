"""Where the tests find the paper's data: ``data/icl-alignment`` of this repository (see its README.md)."""

from __future__ import annotations

from pathlib import Path

PAPER_DATA = Path(__file__).resolve().parents[1] / "data" / "icl-alignment"
"""URIAL prompt files, the paper's greedy/random demonstration sets and the MT-Bench questions."""
