"""The answerability model's recipe behind `cfsp-assistant train answerable`, with fixed seeds:

1. the training questions read, checked, set apart from the evaluation sets and split by document, as `train all`
   does (the same seed gives the same dev documents; unanswerable questions are split at random);
2. what the model reads of every question (its vector and its evidence), from the served index, as the decide step
   computes it (`Assistant.answerability_row`);
3. a logistic regression fitted on the training split for each L2 strength tried; the strength chosen on dev by the
   share of unanswerable dev questions declined at the threshold that declines at most MAX_DECLINED of the
   answerable ones;
4. the shipped model: the chosen one, with that threshold (fitted on the training split, so its threshold was
   chosen on questions it never saw).

A learning curve (models fitted on 1k, 2k and all training-split questions) shows whether more data would help.

The served index's adapter was trained on every answerable question, dev ones included, so the same fit is also
measured on `train all`'s dev index (`workflow.dev_index`, its adapter trained on the training split only): what it
declines there is what it can tell of questions nobody trained on. The shipped model is not fitted there (it reads the
served model's question vectors, and is used only with them).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..answer.answerable import EVIDENCE, AnswerabilityModel, save_answerable
from ..config import Settings
from ..embedding.adapter import model_identity
from ..errors import AssistantError
from .data import TrainingQuestion
from .encoder import EncoderRecipe
from .workflow import dev_index, prepare

STRENGTHS = (0.01, 0.03, 0.1, 0.3, 1.0)  # inverse L2 strengths tried
MAX_DECLINED = 0.02  # the share of answerable dev questions the threshold may turn away
CURVE = (1000, 2000)


@dataclass(frozen=True)
class AnswerablePlan:
    """Where the questions are, where the model goes, and the seed."""

    questions: tuple[Path, ...]
    eval_questions: tuple[Path, ...]
    out: Path
    dev_work: Path | None = None  # `train all`'s work folder: the dev index the fit is also measured on
    dev_share: float = 0.2
    seed: int = 13
    curve: tuple[int, ...] = CURVE


@dataclass(frozen=True)
class Rows:
    """Questions as the model reads them, with whether the texts answer each."""

    x: np.ndarray  # questions x (vector, evidence)
    answerable: np.ndarray  # 1 where the texts answer the question

    def subset(self, keep: np.ndarray) -> Rows:
        """The rows where `keep` is true."""
        return Rows(self.x[keep], self.answerable[keep])


def fit(rows: Rows, c: float, embedding: str, seed: int = 13) -> AnswerabilityModel:
    """Logistic regression (scikit-learn, standardised inputs, L2 strength 1/c); threshold 0 until chosen."""
    try:
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        raise AssistantError("fitting the model needs scikit-learn: pip install 'cfsp-assistant[train]'") from None
    if len(set(rows.answerable.tolist())) < 2:
        raise AssistantError("fitting the answerability model needs questions the texts answer and ones they do not")
    mean = rows.x.mean(axis=0)
    scale = rows.x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    model = LogisticRegression(C=c, max_iter=5000, random_state=seed).fit((rows.x - mean) / scale, rows.answerable)
    return AnswerabilityModel(
        embedding,
        tuple(float(v) for v in mean),
        tuple(float(v) for v in scale),
        tuple(float(v) for v in model.coef_[0]),
        float(model.intercept_[0]),
        threshold=0.0,
    )


def probabilities(model: AnswerabilityModel, rows: Rows) -> np.ndarray:
    """P(answered) for every row."""
    return np.array([model.probability(x) for x in rows.x])


def choose_threshold(p: np.ndarray, answerable: np.ndarray, max_declined: float) -> float:
    """The highest threshold that declines at most `max_declined` of the answerable questions."""
    asked = np.sort(p[answerable == 1])
    if not len(asked):
        return 0.0
    allowed = int(np.floor(max_declined * len(asked)))
    return float(asked[min(allowed, len(asked) - 1)])


def choose_floor(p: np.ndarray, rows: Rows, threshold: float) -> float:
    """The least retrieval confidence (each row's last number) among the answerable questions whose probability
    reaches the threshold: declining below it turns away none of those."""
    kept = rows.x[(rows.answerable == 1) & (p >= threshold), -1]
    return float(kept.min()) if len(kept) else 0.0


def declining(
    p: np.ndarray, answerable: np.ndarray, threshold: float, confidence: np.ndarray | None = None, floor: float = 0.0
) -> dict[str, float]:
    """Shares declined (probability under the threshold, or confidence under the floor) of the unanswerable and of the
    answerable questions."""
    declined = p < threshold
    if confidence is not None:
        declined |= confidence < floor
    return {
        "not_covered_declined": float(declined[answerable == 0].mean()) if (answerable == 0).any() else 0.0,
        "answerable_declined": float(declined[answerable == 1].mean()) if (answerable == 1).any() else 0.0,
    }


def train_answerable(settings: Settings, plan: AnswerablePlan, say: Callable[[str], None] = print) -> dict:
    """Run the recipe; writes the model (with its card in the file) and returns the record."""
    from ..pipeline import Assistant

    started = time.perf_counter()
    data = prepare(settings, plan.questions, plan.eval_questions, plan.dev_share, plan.seed, say)
    embedding = model_identity(settings)

    def read(index: Settings, where: str) -> tuple[Rows, Rows]:
        rows_of: dict[str, np.ndarray] = {}
        reading = index.model_copy(update={"ranker": "rules", "answerable_model": None})  # reads, needs no model
        with Assistant.from_settings(reading) as assistant:
            for n, q in enumerate(data.questions, start=1):
                history = [{"role": t.role, "content": t.content} for t in q.history]
                rows_of[q.id] = assistant.answerability_row(q.question, history)
                if n % 500 == 0:
                    say(f"read {n}/{len(data.questions)} questions from {where}")

        def rows(questions: Sequence[TrainingQuestion]) -> Rows:
            x = np.vstack([rows_of[q.id] for q in questions])
            return Rows(x, np.array([int(q.answerable) for q in questions]))

        return rows(data.train), rows(data.dev)

    def strengths(train: Rows, dev: Rows, embedding: str, where: str) -> list[dict]:
        tried = []
        for c in STRENGTHS:
            model = fit(train, c, embedding, plan.seed)
            p = probabilities(model, dev)
            threshold = choose_threshold(p, dev.answerable, MAX_DECLINED)
            tried.append({"C": c, "threshold": threshold, **declining(p, dev.answerable, threshold)})
            say(f"dev ({where}), C={c}: {tried[-1]}")
        return tried

    train, dev = read(settings, "the served index")
    tried = strengths(train, dev, embedding, "served index")
    chosen = max(tried, key=lambda t: (round(t["not_covered_declined"], 6), -t["C"]))
    model = fit(train, chosen["C"], embedding, plan.seed)
    p = probabilities(model, dev)
    shipped = AnswerabilityModel(
        model.embedding,
        model.mean,
        model.scale,
        model.coef,
        model.intercept,
        chosen["threshold"],
        choose_floor(p, dev, chosen["threshold"]),
    )
    say(f"floor: {shipped.floor:.3f} (the least retrieval confidence of an answerable dev question it answers)")
    curve = []
    for size in sorted(s for s in plan.curve if s < len(data.train)) + [len(data.train)]:
        order = list(range(len(data.train)))
        random.Random(plan.seed).shuffle(order)
        keep = np.zeros(len(data.train), dtype=bool)
        keep[order[:size]] = True
        part = fit(train.subset(keep), chosen["C"], embedding, plan.seed)
        p = probabilities(part, dev)
        threshold = choose_threshold(p, dev.answerable, MAX_DECLINED)
        curve.append({"questions": size, **declining(p, dev.answerable, threshold)})
        say(f"dev after {size} training questions: {curve[-1]}")
    record = data.record()
    card = {k: record[k] for k in ("questions", "answerable", "train", "dev", "seed")} | {
        "set_aside_near_evaluation": len(record["set_aside_near_evaluation"]),
        "tried": tried,
        "chosen_C": chosen["C"],
        "floor": shipped.floor,
        "dev_results": declining(
            probabilities(shipped, dev), dev.answerable, shipped.threshold, dev.x[:, -1], shipped.floor
        ),
        "train_results": declining(
            probabilities(shipped, train), train.answerable, shipped.threshold, train.x[:, -1], shipped.floor
        ),
        "curve": curve,
        "max_declined": MAX_DECLINED,
    }
    if plan.dev_work is not None:
        unseen = dev_index(settings, data, plan.dev_work, EncoderRecipe(seed=plan.seed), say)
        unseen_train, unseen_dev = read(unseen, "the dev index")
        card["unseen"] = {
            "embedding": model_identity(unseen),
            "tried": strengths(unseen_train, unseen_dev, model_identity(unseen), "dev index"),
        }
    card["seconds"] = round(time.perf_counter() - started, 1)
    save_answerable(shipped, plan.out, card)
    (plan.out.parent / "MODEL_CARD.md").write_text(render_card(card, shipped), encoding="utf-8")
    say(f"wrote {plan.out}: dev {card['dev_results']} in {card['seconds']:.0f} s")
    return card


def render_card(card: dict, model: AnswerabilityModel) -> str:
    """MODEL_CARD.md for the shipped answerability model, from the card in its file."""
    dev, train = card["dev_results"], card["train_results"]
    lines = [
        "# The answerability model: model card",
        "",
        "Written by `cfsp-assistant train answerable` (do not edit by hand); the numbers are also in the `card` of "
        "`answerable.json`.",
        "",
        "## What it is",
        f"- A logistic regression (scikit-learn) giving the probability that the texts answer a question, from the "
        f"question's vector ({len(model.coef) - len(EVIDENCE) - 1} numbers, embedding model `{model.embedding}`) and "
        f"the evidence found for it: the best value among its candidate provisions of {', '.join(EVIDENCE)}, and the "
        "retrieval's confidence.",
        f"- Below {model.threshold:.3f}, or when the retrieval's confidence is below {model.floor:.3f} (the least of "
        'an answerable dev question it answers), the decide step declines the question ("the official texts I search '
        'do not answer this question"), saying what the texts cover.',
        "- Used only with the embedding model it was trained on; with another the decide step's rules judge.",
        "- `answerable.json` holds the parameters with their sha256, checked at load.",
        "",
        "## Data",
        f"- {card['questions']} questions ({card['answerable']} answerable) in `models/training/questions/`, written "
        f"by the team from the texts; {card['set_aside_near_evaluation']} too similar to an evaluation question were "
        "set aside.",
        f"- Split by document as `cfsp-assistant train all` splits them: {card['train']} training and {card['dev']} "
        "dev questions (unanswerable ones at random).",
        "- What it reads of each question comes from the served index (`Assistant.answerability_row`), whose "
        "embedding adapter was trained on all the answerable questions, dev ones included.",
        "",
        "## Fitting",
        f"- Fitted on the training split, seed {card['seed']}; L2 strength chosen on dev (C = {card['chosen_C']}); "
        f"threshold: the highest that declines at most {card['max_declined']:.0%} of the answerable dev questions.",
        f"- The whole recipe took {card['seconds']:.0f} s on this 2-core machine.",
        "",
        "## Dev results",
        "",
        "| C | threshold | unanswerable declined | answerable declined |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {t['C']} | {t['threshold']:.3f} | {t['not_covered_declined']:.3f} | {t['answerable_declined']:.3f} |"
        for t in card["tried"]
    ]
    lines += [
        "",
        f"Shipped model, with its floor: dev {dev['not_covered_declined']:.3f} of unanswerable questions declined, "
        f"{dev['answerable_declined']:.3f} of answerable ones; training split {train['not_covered_declined']:.3f} and "
        f"{train['answerable_declined']:.3f}.",
        "",
        "Learning curve (fitted on part of the training split, threshold chosen on dev likewise):",
        "",
        "| training questions | unanswerable declined | answerable declined |",
        "|---|---|---|",
    ]
    lines += [
        f"| {p['questions']} | {p['not_covered_declined']:.3f} | {p['answerable_declined']:.3f} |"
        for p in card["curve"]
    ]
    if "unseen" in card:
        lines += [
            "",
            "## On an index nothing has seen",
            "",
            "The served index's adapter saw every answerable question, dev ones included. The same fit on `train "
            f"all`'s dev index (the corpus embedded with an adapter trained on the training split only, "
            f"`{card['unseen']['embedding']}`; what the model reads, training and dev questions alike, from there), "
            "threshold chosen on dev likewise:",
            "",
            "| C | threshold | unanswerable declined | answerable declined |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {t['C']} | {t['threshold']:.3f} | {t['not_covered_declined']:.3f} | {t['answerable_declined']:.3f} |"
            for t in card["unseen"]["tried"]
        ]
    lines += [
        "",
        "## Retraining on a changed corpus",
        "`cfsp-assistant ingest`, then `cfsp-assistant train answerable`; after retraining the embedding adapter "
        "(`cfsp-assistant train all`), retrain this model too (it reads that model's question vectors). It measures "
        "itself on `train all`'s dev index too (`--dev-work`), training that index's adapter first when it is missing "
        "(about 25 minutes).",
        "",
    ]
    return "\n".join(lines)
