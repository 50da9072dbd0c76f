"""Scorers: turn engine results into per-prompt scores."""
