"""CFSP Assistant: cited answers about the EU's Common Foreign and Security Policy from the official texts."""

__version__ = "0.1.0"
