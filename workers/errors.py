"""Errors raised by the workers package."""


class WorkerError(Exception):
    """Base class of every error raised by ``workers``."""


class EngineError(WorkerError):
    """An engine could not load a model or run a request."""


class EngineDeadError(EngineError):
    """The engine can no longer run requests: its engine process exited, or the device ran out of memory.

    An engine raises it (chaining the backend's own error) when a failure leaves *the engine* unusable rather than
    one request; ``EngineActor`` answers it by discarding the engine, and its next call builds a new one from the
    ``EngineSpec``. Any other ``EngineError`` leaves the engine usable.
    """


class ContextLengthError(EngineError):
    """A prompt (plus its target or ``max_tokens``) does not fit the model's context window."""


class MissingDependencyError(WorkerError):
    """An optional dependency (e.g. vLLM) is needed but not installed; the message says what to install."""


class PlacementError(WorkerError):
    """Engine actors could not be placed on the cluster within the placement timeout."""


class NoLiveActorsError(WorkerError):
    """Every engine actor of a dispatcher was removed from its pool while units were still to do."""


class SlotTransitionError(WorkerError):
    """A dispatcher asked an actor slot for a transition its current state does not allow (a bug in the dispatcher)."""
