"""The composition root: the `Assistant` the CLI, the chat page, the API and evaluation share.

`engine.py` wires one index generation into the stages that answer from it, `ask.py` runs a question through them,
and `watcher.py` follows the index while serving: leases, new generations, and the retired ones still answering.
"""

from .ask import ANSWERERS, NO_LLM
from .assistant import Assistant

__all__ = ["ANSWERERS", "NO_LLM", "Assistant"]
