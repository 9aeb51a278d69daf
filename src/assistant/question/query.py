"""Reading a question: `QueryAnalyser.analyse(question, history)` turns it into a `Query` record that retrieval and
answering read (they never re-parse the question). The question stage (`stage.py`) runs it after the checks, the
language and a model's translation or rewording.

A `Query` holds the question as asked and as searched (follow-up topic carried over, spelling corrected), its
terms as the lexical index's tokenizer gives them (`QueryTerms`, worked out once here), its glossary expansion,
explicit references, what kind of answer it asks for (a body, a date, a frequency, an amount,
a list, a rule ...) and the specific things an answer must contain (a year, a figure, a person's name, the text
of a non-EU treaty, an event, the present state).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import NamedTuple

from ..index.vocabulary import Vocabulary
from ..ingest.catalogue import Term
from ..words import content_words, proper_names, tokens, word_lists
from .conversation import Turn, is_follow_up, resolve
from .languages import ENGLISH_LANGUAGE, Language
from .references import Reference, find_references, other_text

# questions about what is happening now: legal texts as adopted do not record that
_LIVE_STATE = re.compile(
    r"\b(current(ly)?|now|nowadays|today|right now|at the moment|at present|presently|"
    r"this year|latest|so far|to date|upcoming|(?<!the )(?<!its )(?<!their )(next|last) (week|month|year)|"
    # when a meeting still to come or just past is or was: "When is the next meeting of the foreign ministers?"
    # (not "at its next meeting", "in the last year of the mandate": the texts' own wording for rules)
    r"when (is|was|will be) the (next|last)\b[^?]*\b(meetings?|summits?|sessions?|elections?))\b",
    re.I,
)
# questions about whether something was ever used
_RECORD = re.compile(
    r"\b(ever (been )?(used|invoked|activated|applied|triggered)|(has|have|did) (it|they|\w+ \w+) "
    r"ever|actually (been )?(used|invoked|activated|applied|triggered)|how (often|many times) has)\b",
    re.I,
)
# a year asked about ("in 2023"), not the year inside an act's number ("Decision (CFSP) 2017/2315", "2014/512/CFSP")
_YEAR = re.compile(r"(?<![\d/])\b(19[5-9]\d|20[0-4]\d)\b(?!\s*/\s*\d)")
_PERSON = re.compile(
    r"^\s*who\s+(is|was|were|are|has been|will be)\s+(?!(responsible|in charge|entitled|allowed|able|competent|"
    r"bound|obliged|eligible|covered|involved|affected|exempt|concerned|required|consulted|informed)\b)",
    re.I,
)
# which one of a series the question asks about ("the first High Representative", "the previous mission")
_ORDINAL = re.compile(
    r"\b(first|second|third|former|previous|predecessor|last|next|successor|founding|original|before|after)\b", re.I
)
_EVENT = re.compile(
    r"^\s*(has|have|had|did|will)\b(?!\s+(to|the right)\b)|\bwhat happened\b|\bwhen (will|did)\b|"
    r"\bhow did\b.*\b(react|respond)|\b(react(ed)?|respond(ed)?) to\b|\bwhat did\b.*\b(say|decide|do|think)\b",
    re.I,
)


class Intent(StrEnum):
    """What kind of answer a question asks for."""

    HOW_OFTEN = "how_often"
    HOW_MUCH = "how_much"
    WHEN = "when"
    WHO = "who"
    PURPOSE = "purpose"
    WHICH = "which"
    RULE = "rule"
    DEFINITION = "definition"
    GENERAL = "general"


# what kind of answer the question asks for, tried in this order
ASKS_FOR: tuple[tuple[Intent, re.Pattern], ...] = (
    (Intent.HOW_OFTEN, re.compile(r"\bhow (often|frequently)\b|\bhow many times\b|\bevery how\b", re.I)),
    (
        Intent.HOW_MUCH,
        re.compile(
            r"\bhow (much|many|large|big)\b|\bwhat (percentage|share|proportion|amount|sum|number)\b|"
            r"\bwhat is the (budget|amount|ceiling|number|cost)\b",
            re.I,
        ),
    ),
    (
        Intent.WHEN,
        re.compile(
            r"^\s*when\b|\bwhat (date|time|year)\b|\buntil when\b|\bby when\b|\bsince when\b|"
            r"\bhow long\b|\bdeadline\b|\bexpir|\bend date\b|\bstart date\b",
            re.I,
        ),
    ),
    (
        Intent.WHO,
        re.compile(
            r"^\s*(who|whom|whose)\b|\bwhich (\w+ )?(body|bodies|institution|institutions|organ|organi[sz]ations?|"
            r"person|official|authority|authorities)\b|\bby whom\b|\bwho\b",
            re.I,
        ),
    ),
    (
        Intent.PURPOSE,
        re.compile(
            r"\b(why|aim|aims|purpose|objective|objectives|goal|goals|rationale|background|"
            r"reason|reasons)\b",
            re.I,
        ),
    ),
    (
        Intent.WHICH,
        re.compile(
            r"^\s*(which|what)\s+(\w+\s+)?(kinds?|types?|areas|countries|states|tasks|measures|goods|"
            r"items|criteria|conditions|commitments|bodies|missions|principles|projects|sectors|forms|"
            r"activities|means|instruments|regions|exceptions|rights|obligations)\b|\blist\b|"
            r"^\s*which\s+[\w-]+s\b",
            re.I,
        ),
    ),
    (
        # a rule: what may, must or cannot be done. A plain yes/no question ("Is the CFSP intergovernmental?",
        # "Do member states keep their own policies?") asks for a fact, which a descriptive statement answers as
        # well as a "shall" does, so it is "general".
        Intent.RULE,
        re.compile(
            r"^\s*(can|could|may|must|should|has to|have to|would)\b|"
            r"\b(allowed|permitted|obliged|required|forbidden|prohibited|entitled|have to|has to)\b",
            re.I,
        ),
    ),
    (Intent.DEFINITION, re.compile(r"^\s*what\s+(is|are)\b|\bwhat does\b.*\bmean\b|\bexplain\b|\bdefin", re.I)),
)


def asks_about_live_state(question: str) -> bool:
    """Does the question ask about the present state of affairs ("the current head of", "today")?"""
    return bool(_LIVE_STATE.search(question))


def asks_for(question: str) -> Intent:
    """What kind of answer a question wants: how_often, how_much, when, who, purpose, which, rule, definition or
    general."""
    return next((kind for kind, pattern in ASKS_FOR if pattern.search(question)), Intent.GENERAL)


def name_pattern(name: str) -> re.Pattern:
    """Where a text writes the name: acronyms case-sensitively ("EDA", not "eda"), phrases in any case, with
    either apostrophe ("EU's", "EU’s")."""
    flags = 0 if name.isupper() or "/" in name else re.I
    escaped = re.escape(name).replace("'", "['’]")
    return re.compile(rf"(?<![\w/]){escaped}(?![\w/])", flags)


class Alias(NamedTuple):
    """Another name of a glossary term in a question: as written, the term's full name, and all its names."""

    written: str  # "EU's top diplomat"
    full: str  # "High Representative of the Union for Foreign Affairs and Security Policy"
    names: tuple[str, ...]  # ("HR/VP", "High Representative", ..., the full name)


class Expander:
    """Adds glossary expansions (and acronyms) to a question for the lexical and dense searches."""

    def __init__(self, terms: list[Term]):
        self.rules: list[tuple[re.Pattern, str]] = []  # a name or hint -> the expansion; the full name -> the key
        self.names: list[tuple[re.Pattern, str]] = []  # any name of a term -> its full name
        self.mentions: list[tuple[re.Pattern, str]] = []  # any name or hint of a term -> its full name
        self.names_of: dict[str, tuple[str, ...]] = {}  # a term's full name -> all its names
        for term in terms:
            names = [term.key, *term.also]
            self.names_of[term.expansion] = (*names, term.expansion)
            for name in names:
                pattern = name_pattern(name)
                self.rules.append((pattern, term.expansion))
                self.names.append((pattern, term.expansion))
            for hint in term.hints:
                pattern = name_pattern(hint)
                self.rules.append((pattern, term.expansion))
                self.mentions.append((pattern, term.expansion))
            full = re.compile(rf"\b{re.escape(term.expansion)}\b", re.I)
            self.rules.append((full, term.key))
            self.names.append((full, term.expansion))
        self.mentions += self.names
        # every word of the terms' names, lower-cased: a question's word the glossary names is no unknown name
        self.words = frozenset(
            w.lower() for term in terms for name in (term.key, *term.also) for w in re.split(r"[\s/]+", name)
        )

    def entities(self, question: str) -> list[str]:
        """The full names of the glossary terms a question mentions, by any of their names or hints."""
        return list(dict.fromkeys(name for pattern, name in self.mentions if pattern.search(question)))

    def aliases(self, question: str) -> list[Alias]:
        """Each other name of a glossary term the question uses ("EEAS" for "European External Action Service"):
        one thing, whichever of its names a text writes. Not when the question writes the full name too; a hint
        ("veto") names nothing."""
        found: list[Alias] = []
        for pattern, name in self.names:
            match = pattern.search(question)
            if match and name.lower() not in question.lower() and all(a.full != name for a in found):
                found.append(Alias(match.group(0), name, self.names_of.get(name, (name,))))
        return found

    def additions(self, question: str) -> list[str]:
        """The expansions of the terms the question mentions, each once."""
        extra: list[str] = []
        for pattern, addition in self.rules:
            if pattern.search(question) and addition.lower() not in question.lower() and addition not in extra:
                extra.append(addition)
        return extra

    def expand(self, question: str) -> str:
        """The question followed by the expansions of the terms it mentions (each added once)."""
        extra = self.additions(question)
        return f"{question} ({'; '.join(extra)})" if extra else question


class Thesaurus:
    """Everyday words and the legal words for the same thing ("pay" -> "financed", "contributions"); matched on
    stems, so any form of the word ("pays", "paid") counts."""

    def __init__(self, words: dict[str, tuple[str, ...]], stem: Callable[[list[str]], list[list[str]]]):
        keys = list(words)
        self.stem = stem
        self.entries = [(frozenset(stems), words[key]) for key, stems in zip(keys, stem(keys), strict=True) if stems]

    def related(self, text: str) -> list[str]:
        """The legal words for the everyday words of a text, each once, not those it already uses."""
        own = set(self.stem([text])[0])
        found: list[str] = []
        for stems, legal in self.entries:
            if stems <= own:
                found += [w for w in legal if w not in found and w.lower() not in text.lower()]
        return found


@dataclass(frozen=True)
class QueryTerms:
    """A query's words as the lexical index reads them (stemmed, without stop words), worked out once by the
    question stage so that no later stage tokenises the question again. Each field holds the terms of the `Query`
    field of the same name; `content` those of its content words (`content_words`), `expansions` and `aliases` one
    tuple per expansion and per alias as written."""

    searched: tuple[str, ...] = ()
    content: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    rewrite: tuple[str, ...] = ()
    expansions: tuple[tuple[str, ...], ...] = ()
    aliases: tuple[tuple[str, ...], ...] = ()

    @property
    def expanded(self) -> tuple[str, ...]:
        """The terms of `Query.expanded`: what is searched, then its glossary expansions."""
        return self.searched + tuple(t for terms in self.expansions for t in terms)

    @property
    def lexical(self) -> tuple[str, ...]:
        """The terms of `Query.lexical`, what the lexical search reads: the expanded question, then the legal words
        for its everyday words."""
        return self.expanded + self.related


@dataclass(frozen=True)
class Query:
    """One question, understood: what was asked, what was searched and what a good answer must contain."""

    asked: str
    searched: str  # with the conversation's topic carried over and typos corrected: shown as "Searched for"
    expanded: str  # `searched` plus glossary expansions: what the retrievers read
    expansions: tuple[str, ...] = ()  # glossary expansions of its terms and acronyms
    entities: tuple[str, ...] = ()  # full names of the glossary terms it mentions ("Political and Security Committee")
    aliases: tuple[Alias, ...] = ()  # other names of glossary terms it uses: "EEAS" for "European External ..."
    related: tuple[str, ...] = ()  # legal words for its everyday words: searched lexically, with less weight
    corrections: tuple[tuple[str, str], ...] = ()  # (as typed, as searched)
    references: tuple[Reference, ...] = ()
    other_text: str = ""  # "Article 5 of the NATO treaty": asks for the text of something not indexed
    unknown: tuple[str, ...] = ()  # names (or numbered things) the texts never use
    names: tuple[str, ...] = ()  # the names the question uses that the texts know
    asks_for: Intent = Intent.GENERAL
    years: tuple[str, ...] = ()  # years asked about
    wants_person: bool = False  # "who is/was ...": a person's name
    ordinal: str = ""  # which one of a series it asks about: "first", "previous", "next" ...
    event: bool = False  # whether or how something happened ("has Switzerland adopted ...", "when will ...")
    live_state: bool = False  # the present state ("current", "now", "today")
    record: bool = False  # whether something was ever used ("has it ever been invoked")
    follow_up: bool = False
    # a language model's standalone rewording of a follow-up, searched beside `searched` (never instead of it)
    rewrite: str = ""
    language: Language = ENGLISH_LANGUAGE  # the language it was asked in
    translated: str = ""  # a language model's English translation of it, when asked in another language
    untranslated: str = ""  # why a language model could not translate it, when it could not
    terms: QueryTerms = QueryTerms()  # its words as the lexical index reads them (`with_terms`)

    @property
    def lexical(self) -> str:
        """What the lexical search reads: the expanded question plus the legal words for its everyday words."""
        return f"{self.expanded} {' '.join(self.related)}" if self.related else self.expanded

    @property
    def wants_figure(self) -> bool:
        """Asks for an amount, a count or a share."""
        return self.asks_for is Intent.HOW_MUCH

    @property
    def standalone(self) -> str:
        """The question as a language model should read it without the conversation: a model's rewording, else
        what is searched when it was translated or carries the conversation's topic, else the question as asked."""
        return self.rewrite or (self.searched if self.translated or self.follow_up else self.asked)


def with_terms(query: Query, tokenize: Callable[[list[str]], list[list[str]]]) -> Query:
    """The query with its `QueryTerms`, from the lexical index's tokenizer (one call for all its texts)."""
    texts = [
        query.searched,
        content_words(query.searched),
        " ".join(query.related),
        " ".join(query.names),
        query.rewrite,
        *query.expansions,
        *(alias.written for alias in query.aliases),
    ]
    found = [tuple(terms) for terms in tokenize(texts)]
    searched, content, related, names, rewrite = found[:5]
    expansions = tuple(found[5 : 5 + len(query.expansions)])
    aliases = tuple(found[5 + len(query.expansions) :])
    terms = QueryTerms(searched, content, related, names, rewrite, expansions, aliases)
    return replace(query, terms=terms)


class QueryAnalyser:
    """Builds `Query` records against one index's vocabulary, treaty articles and the glossary, with their terms
    as the index's tokenizer reads them."""

    def __init__(
        self,
        expander: Expander,
        thesaurus: Thesaurus,
        vocabulary: Vocabulary,
        treaty_articles: dict[str, set[str]],
        english: Callable[[str], bool],
        tokenize: Callable[[list[str]], list[list[str]]],
    ):
        self.tokenize = tokenize
        self.expander = expander
        self.thesaurus = thesaurus
        self.vocabulary = vocabulary
        self.treaty_articles = treaty_articles
        self.english = english

    def corrections(self, text: str) -> list[tuple[str, str]]:
        """(typed word, the word the texts use) for each word one typo away from a word of the texts."""
        found = []
        function = word_lists().function
        for token in tokens(text):
            if token.lower() in function or any(c.isdigit() for c in token):
                continue
            fixed = self.vocabulary.correction(token, self.english)
            if fixed:
                found.append((token, _same_case(token, fixed)))
        return found

    def unknown(self, text: str) -> list[str]:
        """Names and numbered words ("14th") of the question that no indexed text uses, in any spelling."""
        candidates = proper_names(text) + [
            t for t in tokens(text) if any(c.isdigit() for c in t) and any(c.isalpha() for c in t)
        ]
        return [w for w in dict.fromkeys(candidates) if not self.vocabulary.knows(w, self.expander.words)]

    def analyse(
        self, question: str, history: Iterable[Turn] = (), english: str | None = None, rewrite: str | None = None
    ) -> Query:
        """The `Query` for a question in its conversation. `english` is a language model's translation of it: then
        it is what is analysed, and searched with the conversation's topic carried over as the question would be.
        `rewrite` is a model's standalone wording of a follow-up: searched beside the built-in resolver's query,
        never instead of it."""
        turns = tuple(history)
        base = english or question
        fixes = self.corrections(base)
        corrected = base
        for typed, fixed in fixes:
            corrected = re.sub(rf"(?<![\w'’]){re.escape(typed)}(?![\w])", fixed, corrected)
        searched = resolve(corrected, turns)
        extra = self.expander.additions(searched)
        expanded = f"{searched} ({'; '.join(extra)})" if extra else searched
        unknown = self.unknown(corrected)
        known = [n for n in proper_names(corrected) if n not in unknown]
        query = Query(
            asked=question,
            searched=searched,
            expanded=expanded,
            expansions=tuple(extra),
            entities=tuple(self.expander.entities(searched)),
            aliases=tuple(self.expander.aliases(searched)),
            related=tuple(self.thesaurus.related(searched)),
            corrections=tuple(fixes),
            references=tuple(find_references(searched, self.treaty_articles)),
            other_text=other_text(corrected),
            unknown=tuple(unknown),
            names=tuple(known),
            asks_for=asks_for(corrected),
            years=tuple(dict.fromkeys(_YEAR.findall(corrected))),
            wants_person=bool(_PERSON.search(corrected)),
            ordinal=m.group(1).lower() if (m := _ORDINAL.search(corrected)) else "",
            event=bool(_EVENT.search(corrected)),
            live_state=asks_about_live_state(corrected),
            record=bool(_RECORD.search(corrected)),
            follow_up=bool(turns) and is_follow_up(corrected),
        )
        return self.reword(query, rewrite)

    def reword(self, query: Query, rewrite: str | None) -> Query:
        """The query with a model's rewording searched beside it, unless it only repeats what is searched; its terms
        worked out again."""
        same = not rewrite or rewrite.strip().lower() == query.searched.strip().lower()
        return with_terms(replace(query, rewrite="" if same else str(rewrite)), self.tokenize)


def _same_case(typed: str, word: str) -> str:
    """The corrected word written as the typed one was (capitalised, upper case), keeping a possessive."""
    suffix = re.search(r"(['’]s|s['’])$", typed)
    if typed.isupper():
        word = word.upper()
    elif typed[:1].isupper():
        word = word[:1].upper() + word[1:]
    return word + (suffix.group(0) if suffix else "")
