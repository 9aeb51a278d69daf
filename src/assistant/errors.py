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


REPAIR = "re-run `cfsp-assistant ingest` to repair it"


class IndexUnusableError(AssistantError):
    """The index cannot serve: missing, built for other settings, or damaged. The message says how to fix it."""

    def __init__(self, problem: str, fix: str = REPAIR):
        super().__init__(f"{problem}: {fix}")
        self.problem = problem


class IndexMissingError(IndexUnusableError):
    """No index has been built yet in the data folder."""


class IndexMismatchError(IndexUnusableError):
    """The index was built with another embedding model, provider, dimension or index format."""


class IndexDamagedError(IndexUnusableError):
    """The index's files are corrupt, incomplete or unreadable; `cfsp-assistant ingest` repairs it."""


class DataDirError(AssistantError):
    """The data folder cannot be created, read or written."""


def os_error_message(exc: OSError) -> str:
    """A file-system failure as one line naming the path and what to do."""
    where = f" {exc.filename}" if exc.filename else ""
    return (
        f"cannot use{where}: {exc.strerror or exc}; check that CFSP_DATA_DIR and CFSP_CORPUS_DIR name folders "
        "you can read (and, for the data folder, write)"
    )


class QuestionError(AssistantError):
    """The question is empty, too long or otherwise unusable."""


class LLMError(Exception):
    """The language model could not be used for this answer; the message is the reason given with the fallback."""
