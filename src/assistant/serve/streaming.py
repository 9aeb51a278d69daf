"""An answer written out piece by piece (the page and the API stream it the same way)."""

from __future__ import annotations

WORDS_PER_PIECE = 3


def answer_pieces(text: str, words: int = WORDS_PER_PIECE) -> list[str]:
    """The answer text in groups of words, spaces kept, so the pieces join back to exactly the text."""
    tokens = text.split(" ")
    return (
        [
            " ".join(tokens[i : i + words]) + (" " if i + words < len(tokens) else "")
            for i in range(0, len(tokens), words)
        ]
        if text
        else []
    )
