"""The engine interface: everything that runs a model implements it."""

from __future__ import annotations

from abc import ABC, abstractmethod

from workers.decoding import DecodingParams
from workers.tree import GenerateResult, PrefixTree, ScoreResult


class Engine(ABC):
    """Runs one step's prefix tree through a model.

    Contract:
    * Results come back in input order: branch-major, leaf-minor (``len(branches) * len(leaves)`` items).
    * ``score`` returns the log-probability of every target token of every leaf, conditioned on
      ``prefix + branch + leaf.prompt_ids`` and the target tokens before it; a leaf without target ids
      gets an empty tuple.
    * ``generate`` returns an answer for every leaf; the text stops before the first stop string. An answer
      also ends when the model's EOS or one of ``params.stop_token_ids`` is sampled: that id ends its
      ``token_ids``, its text is not in the answer's text, and ``finish_reason`` is ``"stop"``.
    * Each item reports ``prompt_tokens == computed_tokens + cached_tokens``, where prompt tokens are
      those of the full request (prefix + branch + leaf (+ target for ``score``)), and ``cached_tokens``
      are the tokens whose key/values were reused instead of computed; call stats sum them and carry the
      wall time.
    * A request that does not fit ``max_context`` raises ``ContextLengthError`` before any compute.
    * ``warm(prefix_ids)`` may precompute a shared prefix; it never changes results.
    * A failure that leaves the engine itself unusable (its engine process died, the device ran out of memory)
      raises ``EngineDeadError`` (``workers.errors``), chaining the backend's error; after it the engine is only
      closed. Any other error concerns the request alone: the engine stays usable.
    """

    @property
    @abstractmethod
    def max_context(self) -> int:
        """The most tokens one request (prompt + generated or target tokens) may hold."""

    @abstractmethod
    def score(self, tree: PrefixTree) -> ScoreResult:
        """Log-probabilities of every leaf's target tokens under every branch."""

    @abstractmethod
    def generate(self, tree: PrefixTree, params: DecodingParams) -> GenerateResult:
        """An answer for every (branch, leaf) request."""

    def warm(self, prefix_ids: tuple[int, ...]) -> None:  # noqa: B027 - optional hook
        """Precompute ``prefix_ids`` so later calls that share it can reuse it. Default: nothing."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the model and any background processes. Default: nothing."""
