"""Where a model's files come from: a local directory, or a Hugging Face hub id resolved through the local cache.

A hub id (``org/name``, optionally at a ``revision``: a branch, tag or commit) is handed to transformers (or vLLM)
as is, with its revision; they resolve it through huggingface_hub's cache (``HF_HUB_CACHE``, by default
``$HF_HOME/hub``), downloading what is missing unless ``HF_HUB_OFFLINE=1``. Nothing here parses the cache's
layout. The driver needs only the tokenizer and config files; every engine actor resolves the id again on its own
machine, so on a cluster each node reads its own cache.

This module is shared by the driver (``demo_search``) and the engines; it imports nothing heavy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ModelSource:
    """A model location (a local directory or a hub id) and, for a hub id, the revision to load."""

    location: str
    revision: str | None = None

    @property
    def is_local(self) -> bool:
        """Whether ``location`` names a directory on this machine (an absolute path, or one that exists)."""
        return Path(self.location).is_absolute() or Path(self.location).is_dir()

    def load_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for transformers' ``from_pretrained`` besides the location (the revision, if any)."""
        return {} if self.revision is None else {"revision": self.revision}

    def describe(self) -> str:
        """``org/name`` or ``org/name (revision r)``; a local directory as its path."""
        return self.location if self.revision is None else f"{self.location} (revision {self.revision})"

    def not_found(self, what: str, cause: BaseException | str) -> str:
        """One line saying that ``what`` (e.g. "tokenizer and config") of this model could not be loaded, where
        it was looked for, and how to make it available."""
        if self.is_local:
            return f"could not load the {what} of the model at {self.location}: {_first_line(cause)}"
        from huggingface_hub import constants

        offline = " (offline: HF_HUB_OFFLINE=1)" if constants.HF_HUB_OFFLINE else ""
        revision = "" if self.revision is None else f" --revision {self.revision}"
        reason = "" if constants.HF_HUB_OFFLINE else f" ({_first_line(cause)})"
        return (
            f"model {self.describe()}: {what} not found in the Hugging Face cache {constants.HF_HUB_CACHE}{offline}"
            f"{reason}; fetch it with `hf download {self.location}{revision}` (`huggingface-cli download` with "
            "huggingface_hub < 1.0) on this machine, set HF_HOME or HF_HUB_CACHE to the cache that holds it, "
            "or set model.path to a local model directory"
        )


def _first_line(cause: BaseException | str) -> str:
    text = str(cause).strip()
    return text.splitlines()[0] if text else type(cause).__name__
