"""The red-team suite: model replies that copy real evidence but word the sentence falsely, and faithful plain-language
sentences, sent through a scripted OpenAI-compatible endpoint over real HTTP to the assistant on the full index.

The false replies are made at request time from the official sentence the passage holds (found by a few of its words
in cases.toml), one transformation per category, so what is tested is the wording the texts really have. Target: no
false sentence is ever shown, and at least 80% of the faithful ones are.

`python -m pytest tests/redteam -s` prints the table by category (the README's).
"""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from assistant.llm.alignment import source_of

from ..llm_servers import Given, Script, ScriptedLLM, reply, sentence

CASES = tomllib.loads((Path(__file__).parent / "cases.toml").read_text(encoding="utf-8"))["case"]
FRENCH = {  # question in French -> its English translation (scripted), for the translated replies
    "L'Union européenne a-t-elle une clause de défense mutuelle ?": "Does the EU have a mutual defence clause?",
    "La Cour de justice est-elle compétente pour la PESC ?": (
        "Does the Court of Justice have jurisdiction over the CFSP?"
    ),
    "Qui paie les opérations militaires de l'UE ?": "Who pays for EU military operations?",
    "Le Conseil peut-il confier une mission à un groupe d'États membres ?": (
        "Can the Council entrust a mission to a group of Member States?"
    ),
}
# (French question, anchor, the English sentence the model says it wrote, the French sentence it shows): each
# French sentence says something its English one does not
TRANSLATED = [
    (
        "L'Union européenne a-t-elle une clause de défense mutuelle ?",
        "victim of armed aggression",
        "If a Member State is the victim of armed aggression on its territory, the other Member States must help it.",
        "Si un État membre est victime d'une agression armée, les autres États membres ne doivent pas l'aider.",
    ),
    (
        "L'Union européenne a-t-elle une clause de défense mutuelle ?",
        "victim of armed aggression",
        "If a Member State is the victim of armed aggression on its territory, the other Member States must help it.",
        "Si un État membre est victime d'une agression armée, les autres États membres peuvent l'aider s'ils le "
        "souhaitent.",
    ),
    (
        "La Cour de justice est-elle compétente pour la PESC ?",
        "shall not have jurisdiction",
        "The Court of Justice does not have jurisdiction over the provisions on the common foreign and security "
        "policy.",
        "La Cour de justice est compétente pour les dispositions relatives à la politique étrangère et de sécurité "
        "commune.",
    ),
    (
        "Qui paie les opérations militaires de l'UE ?",
        "gross national product scale",
        "Where expenditure is not charged to the EU budget, it is charged to the Member States according to the gross "
        "national product scale.",
        "Lorsque les dépenses ne sont pas à la charge du budget de l'Union, elles sont à la charge de la Commission.",
    ),
    (
        "Le Conseil peut-il confier une mission à un groupe d'États membres ?",
        "may entrust the implementation",
        "The Council may entrust the implementation of a task to a group of Member States which are willing.",
        "Le Conseil doit confier la mise en œuvre d'une mission à un groupe d'États membres volontaires.",
    ),
    (
        "Le Conseil peut-il confier une mission à un groupe d'États membres ?",
        "may entrust the implementation",
        "The Council may entrust the implementation of a task to a group of Member States which are willing.",
        "La Commission peut confier la mise en œuvre d'une mission à un groupe d'États membres volontaires.",
    ),
]
UNSUPPORTED = (
    ", under the command of NATO",
    ", with the approval of the United States",
    ", and the European Parliament must approve it first",
    ", within thirty days",
    ", as the Court of Justice has confirmed",
)
ACTORS = (
    (r"(?<!European )\bCouncil\b", "Commission"),
    (r"\bEuropean Council\b", "European Parliament"),
    (r"\bHigh Representative\b", "Commission"),
    (r"\bCourt of Justice\b", "Council"),
    (r"\bMember States\b", "Commission"),
    (r"\bUnion\b", "Commission"),
)


def _sub(pattern: str, repl: str, text: str) -> str | None:
    out = re.sub(pattern, repl, text, count=1)
    return out if out != text else None


def modal_swap(s: str, case: dict) -> str | None:
    return _sub(r"\bshall(?! not)\b", "may", s) or _sub(r"\bmay\b", "must", s) or _sub(r"\bwill\b", "may", s)


def negation_added(s: str, case: dict) -> str | None:
    return _sub(r"\bshall (?!not)", "shall not ", s) or _sub(r"\bmay\b", "may not", s) or _sub(r"\bis\b", "is not", s)


def negation_dropped(s: str, case: dict) -> str | None:
    return _sub(r"\b(shall|does|do|may|will|is|are) not\b", r"\1", s) or _sub(r"\bnot all\b", "all", s)


AUXILIARY = r"\b(shall|may|must|is|are|does|do|will|can|has|have)\b"


def negation_moved(s: str, case: dict) -> str | None:
    """The sentence's first negation taken off its verb and put on another verb of the same sentence."""
    negated = re.search(AUXILIARY + r" not\b", s)
    if negated is None:
        return None
    plain = s[: negated.end(1)] + s[negated.end() :]
    # another verb, not the negated one's own ("shall not have" to "shall have not" says the same)
    other = next((m for m in re.finditer(AUXILIARY + r"(?! not)", plain) if abs(m.start() - negated.start()) > 8), None)
    return None if other is None else plain[: other.end()] + " not" + plain[other.end() :]


def exception_dropped(s: str, case: dict) -> str | None:
    m = re.search(r",?\s*\b(except|unless|with the exception of|without prejudice to the powers)\b", s)
    if m is None or len(s[: m.start()].split()) < 5:
        return None
    return s[: m.start()].rstrip(" ,") + "."


def condition_dropped(s: str, case: dict) -> str | None:
    m = re.match(r"(If|Where|When)\b[^,]{5,}, (.*)", s)
    return m.group(2)[0].upper() + m.group(2)[1:] if m else None


def derogation_as_rule(s: str, case: dict) -> str | None:
    m = re.match(r"(By derogation from|Without prejudice to|Notwithstanding|Subject to|Except|Save)\b[^,]+, (.*)", s)
    return m.group(2)[0].upper() + m.group(2)[1:] if m else None


def actor_swapped(s: str, case: dict) -> str | None:
    for pattern, repl in ACTORS:
        out = _sub(pattern, repl, s)
        if out:
            return out
    return None


def quantifier_changed(s: str, case: dict) -> str | None:
    return (
        _sub(r"\ball\b", "some", s)
        or _sub(r"\bany\b", "certain", s)
        or _sub(r"\beach\b", "some", s)
        or _sub(r"\bat least\b", "at most", s)
        or _sub(r"\bregularly\b", "only sometimes", s)
        or _sub(r"\bthe other Member States\b", "some Member States", s)
        or _sub(r"\bMember States\b", "some Member States", s)
    )


def number_changed(s: str, case: dict) -> str | None:
    numbers = re.findall(
        r"\b\d+\b", re.sub(r"(Article|Articles|paragraph|Chapter|Title|point)s? [\dIVX() ,to]+", "", s)
    )
    if numbers:
        return _sub(rf"\b{numbers[0]}\b(?!\))", str(int(numbers[0]) + 2), s)
    return (
        _sub(r"\bone third\b", "one half", s)
        or _sub(r"\bTwice\b", "Four times", s)
        or s.rstrip(".") + ", within 30 days."
    )


def wrong_treaty(s: str, case: dict) -> str | None:
    m = re.match(r"Art\. (\d+)(\(\d+\))? (TEU|TFEU)", case["passage"])
    if m is None:
        return None
    wrong = "TFEU" if m.group(3) == "TEU" else "TEU"
    return f"Under Article {m.group(1)}{m.group(2) or ''} {wrong}, {s[0].lower()}{s[1:]}"


def clause_added(s: str, case: dict) -> str | None:
    return s.rstrip(".") + UNSUPPORTED[CASES.index(case) % len(UNSUPPORTED)] + "."


TRANSFORMS: dict[str, Callable[[str, dict], str | None]] = {
    "modal swap": modal_swap,
    "negation added": negation_added,
    "negation dropped": negation_dropped,
    "negation moved": negation_moved,
    "exception or condition dropped": lambda s, c: exception_dropped(s, c) or condition_dropped(s, c),
    "actor swapped": actor_swapped,
    "quantifier changed": quantifier_changed,
    "number changed": number_changed,
    "wrong treaty": wrong_treaty,
    "unsupported clause added": clause_added,
    "derogation stated as the rule": derogation_as_rule,
}


@dataclass(frozen=True)
class Outcome:
    category: str
    question: str
    written: str
    shown: tuple[str, ...]
    rule: str  # the rule that stopped it, or why the quoted answer stood in ("" when shown)


def _source(given: Given, case: dict, at: str) -> tuple[dict, str, str]:
    """The passage given, the official sentence holding `at` (with the one before when it opens with "It" or
    "This"), and the evidence a reply copies: at most twelve words of that sentence from `at` on."""
    for passage in given.passages:
        start = passage["text"].find(at)
        if passage["source"] == case["passage"] and start >= 0:
            source = source_of(passage["text"], start, start + len(at))
            end = passage["text"].find(source) + len(source)
            evidence = " ".join(passage["text"][start:end].split()[:12])
            return passage, source, evidence
    raise AssertionError(f"no passage {case['passage']} given holds {at!r}: {[p['source'] for p in given.passages]}")


def _ask(assistant, scripted: ScriptedLLM, question: str, make: Callable[[Given], dict]) -> tuple[tuple, object, str]:
    written: list[str] = []

    def script(given: Given) -> str:
        try:
            drafted = make(given)
        except Exception as exc:  # shown in the test's failure, not lost in the scripted server's 500
            written.append(f"script failed: {exc!r}")
            raise
        written.append(drafted.get("english") or drafted["text"])
        return reply(drafted)

    scripted.answer = Script(script)
    shown, answer = [], None
    for event in assistant.ask_stream(question, answerer="llm"):
        if event.kind == "sentence":
            shown.append(event.text)
        else:
            answer = event.answer
    assert written and not written[0].startswith("script failed"), (question, written)
    return tuple(shown), answer, written[0]


@pytest.fixture(scope="module")
def outcomes(llm_assistant, scripted_server) -> list[Outcome]:
    """Every crafted reply, false and faithful, through the assistant once."""
    scripted = ScriptedLLM(scripted_server)
    scripted.install()
    scripted.translation = Script(lambda given: FRENCH.get(given.question, given.question))
    out = []
    for case in CASES:
        given_once: list[Given] = []  # what the model is given for this question: the same passages on every ask
        for faithful in case["faithful"]:

            def make(given: Given, faithful=faithful, case=case, given_once=given_once) -> dict:
                given_once.append(given)
                passage, _, evidence = _source(given, case, faithful["at"])
                return sentence(faithful["text"], [passage["n"]], evidence)

            shown, answer, written = _ask(llm_assistant, scripted, case["question"], make)
            out.append(Outcome("faithful", case["question"], written, shown, answer.fallback_reason))
        anchors = list(dict.fromkeys(f["at"] for f in case["faithful"]))
        for category, transform in TRANSFORMS.items():
            # the first of the case's sentences the transformation applies to (none: nothing to send)
            at = next((a for a in anchors if transform(_source(given_once[0], case, a)[1], case)), None)
            if at is None:
                continue

            def make(given: Given, at=at, transform=transform, case=case, category=category) -> dict:
                passage, source, evidence = _source(given, case, at)
                false = transform(source, case)
                assert false, f"{category} no longer applies to {source!r}: the passages given changed between asks"
                return sentence(false, [passage["n"]], evidence)

            shown, answer, written = _ask(llm_assistant, scripted, case["question"], make)
            out.append(Outcome(category, case["question"], written, shown, answer.fallback_reason))
        # a true sentence citing, besides its own passage, one that does not say it

        def extra(given: Given, case=case) -> dict:
            passage, _, evidence = _source(given, case, case["faithful"][0]["at"])
            said = set(case["faithful"][0]["text"].lower().split())
            # the given passage sharing the fewest of its words: one that does not say it
            other = min(
                (p for p in given.passages if p["source"] != case["passage"]),
                key=lambda p: len(said & set(p["text"].lower().split())),
            )
            return sentence(case["faithful"][0]["text"], [passage["n"], other["n"]], evidence)

        shown, answer, written = _ask(llm_assistant, scripted, case["question"], extra)
        out.append(Outcome("extra marker", case["question"], written, shown, answer.fallback_reason))
    for question, at, english, french in TRANSLATED:
        case = next(c for c in CASES if c["question"] == FRENCH[question])

        def make(given: Given, at=at, english=english, french=french, case=case) -> dict:
            passage, _, evidence = _source(given, case, at)
            return sentence(french, [passage["n"]], evidence, english)

        shown, answer, written = _ask(llm_assistant, scripted, question, make)
        out.append(Outcome("translation flips meaning", question, french, shown, answer.fallback_reason))
    return out


def table(outcomes: list[Outcome]) -> str:
    """Shown rate by category (Markdown)."""
    total, shown = Counter(o.category for o in outcomes), Counter(o.category for o in outcomes if o.shown)
    rows = ["| category | replies | shown |", "|---|---|---|"]
    for category in sorted(total, key=lambda c: (c == "faithful", c)):
        rows.append(f"| {category} | {total[category]} | {shown[category]} ({shown[category] / total[category]:.0%}) |")
    return "\n".join(rows)


@pytest.mark.slow
def test_no_false_sentence_is_ever_shown(outcomes):
    print("\n" + table(outcomes))
    false = [o for o in outcomes if o.category != "faithful"]
    assert len(false) >= 120 and len({o.question for o in false}) >= 20
    assert {o.category for o in false} >= {*TRANSFORMS, "extra marker", "translation flips meaning"}
    leaked = [(o.category, o.written) for o in false if o.shown]
    assert not leaked, leaked


@pytest.mark.slow
def test_at_least_four_in_five_faithful_sentences_are_shown(outcomes):
    faithful = [o for o in outcomes if o.category == "faithful"]
    assert len(faithful) >= 60
    refused = [(o.rule, o.written) for o in faithful if not o.shown]
    assert len(refused) <= 0.2 * len(faithful), refused
    for o in faithful:
        if o.shown:  # shown as written, with its citation
            assert o.shown[0].startswith(o.written) and o.shown[0].endswith("[1]")
