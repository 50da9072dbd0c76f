"""Errors raised by the workers package."""


class WorkerError(Exception):
    """Base class of every error raised by ``workers``."""


class EngineError(WorkerError):
    """An engine could not load a model or run a request."""


class ContextLengthError(EngineError):
    """A prompt (plus its target or ``max_tokens``) does not fit the model's context window."""


class MissingDependencyError(WorkerError):
    """An optional dependency (e.g. vLLM) is needed but not installed; the message says what to install."""
