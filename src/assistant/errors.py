"""Errors the assistant reports to people: each carries a one-line, actionable message."""


class AssistantError(Exception):
    """Base class for errors shown to users as one line, without a traceback."""


class ConfigError(AssistantError):
    """A setting is missing or has a value the assistant cannot use."""


class CorpusError(AssistantError):
    """The corpus folder or catalogue cannot be read."""


class DocumentError(AssistantError):
    """One corpus file cannot be loaded; ingest skips it and names it in the report."""


class ModelError(AssistantError):
    """The embedding model is missing, tampered with or cannot be loaded."""


class IndexMissingError(AssistantError):
    """No index has been built yet (or it was built for a different model)."""


class QuestionError(AssistantError):
    """The question is empty, too long or otherwise unusable."""
