"""Example questions: a curated list the corpus answers, shown on the start screen and suggested after an abstention."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

# Each question is answered with citations by the full corpus (tests/test_web.py checks it), grouped by topic.
EXAMPLES: tuple[str, ...] = (
    # decision-making
    "Can the EU decide foreign policy by majority vote?",
    "How are CFSP decisions taken in the Council?",
    "What is constructive abstention?",
    "What role does the European Council play in foreign policy?",
    "What does the Political and Security Committee do?",
    "Can the Court of Justice rule on CFSP matters?",
    "How is the CFSP financed?",
    # High Representative
    "What is the role of the High Representative?",
    # CSDP missions and operations
    "What does EULEX Kosovo do?",
    "What is the mandate of EUCAP Somalia?",
    "How are EU military operations financed?",
    # defence cooperation
    "What is PESCO?",
    "Which Member States can take part in PESCO?",
    "What does the European Defence Agency do?",
    "What is the European Peace Facility?",
    # sanctions
    "How does the EU adopt sanctions?",
    "What restrictive measures has the EU adopted against Iran?",
    "Can the EU sanction people for cyber-attacks?",
    "What are the EU sanctions for serious human rights violations?",
    # mutual assistance and solidarity
    "Does the EU have a mutual defence clause like NATO?",
    "What is the solidarity clause?",
    "What happens if a Member State is attacked?",
    # non-proliferation and arms
    "How does the EU control exports of dual-use goods?",
    "What does the EU do against the proliferation of weapons of mass destruction?",
    "How does the EU fight the illicit trade in small arms?",
)

# One per main topic: decision-making, High Representative, CSDP missions, PESCO, sanctions, mutual assistance.
START: tuple[str, ...] = (
    "Can the EU decide foreign policy by majority vote?",
    "What is the role of the High Representative?",
    "What does EULEX Kosovo do?",
    "What is PESCO?",
    "How does the EU adopt sanctions?",
    "Does the EU have a mutual defence clause like NATO?",
)


class ExamplePicker:
    """Finds the example questions closest in meaning to a question; the examples are embedded once, up front."""

    def __init__(self, questions: Sequence[str], embed: Callable[[str], np.ndarray]):
        self.questions = tuple(questions)
        self.embed = embed
        self.vectors = (
            np.stack([np.asarray(embed(q), dtype=np.float32) for q in self.questions])
            if self.questions
            else np.zeros((0, 1), dtype=np.float32)
        )

    def nearest(self, question: str, k: int = 3) -> list[str]:
        """Up to k examples by cosine similarity (the vectors are unit length), leaving out the question itself."""
        if not self.questions or k <= 0:
            return []
        scores = self.vectors @ np.asarray(self.embed(question), dtype=np.float32)
        asked = question.strip().casefold()
        ranked = [self.questions[i] for i in np.argsort(-scores, kind="stable")]
        return [q for q in ranked if q.casefold() != asked][:k]
