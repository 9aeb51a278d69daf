"""Trains the reader (`assistant.reader`): the packaged MiniLM, cut to its first layers, as a cross-encoder that reads
a question with one candidate provision and says whether it answers.

Each training question gives one group: the provision that answers it (the first answering candidate of the real
pipeline, or the provision it is tied to when the pipeline did not find it) and the best candidates that do not
answer, the hard negatives the reader must learn to put below it. A question the texts do not answer gives a group of
negatives only. The loss is the binary cross-entropy of every pair (so the probability means something on its own)
plus the softmax cross-entropy of each group with an answer (so the answer comes first). The word embeddings stay the
packaged model's (frozen), so only the rest is shipped.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from ..answer.reader import CONFIG, FILES, WEIGHTS, WORD_EMBEDDINGS, candidate_text
from ..answer.records import Candidate
from ..embedding.model_files import write_sums
from .data import TrainingQuestion
from .encoder import passage_text
from .listing import ProvisionEntry
from .ranker_fit import answers_question


@dataclass(frozen=True)
class ReaderRecipe:
    """Everything that decides the reader, so a run can be repeated exactly."""

    layers: int = 6  # of the packaged model's 6; 3 learned too little (dev 0.555 against 0.573 with 6)
    max_tokens: int = 96
    pooling: str = "mean"  # how the token vectors become one: "mean" (as the packaged model was trained) or "cls"
    candidates: int = 5  # how many of the first ranking's best candidates it reads when serving
    precision: str = "int8"  # the ONNX file it serves from (and dev measures it with): "fp32" or "int8"
    negatives: int = 4  # hard negatives per question
    words: int = 40  # a provision longer than this is read as its most relevant sentences (0: from its start)
    questions_per_step: int = 6
    epochs: int = 1
    learning_rate: float = 1e-4
    seed: int = 13


@dataclass(frozen=True)
class Group:
    """One question with the provisions the reader learns from: (text, answers?) pairs."""

    question: str
    texts: tuple[str, ...]
    labels: tuple[int, ...]


def question_group(
    question: TrainingQuestion,
    candidates: Sequence[Candidate],
    listing: Mapping[str, ProvisionEntry],
    negatives: int,
    words: int = 0,
) -> Group | None:
    """The question's training group from its ranked candidates (None when there is nothing to learn from); each
    candidate as the reader reads it (`words`: `ReaderRecipe.words`)."""
    gold = set(question.provisions)
    answering = [c for c in candidates if question.answerable and answers_question(c, gold, listing)]
    wrong = [
        candidate_text(c, words) for c in candidates if not (question.answerable and answers_question(c, gold, listing))
    ]
    wrong = list(dict.fromkeys(wrong))[:negatives]
    if not question.answerable:
        return Group(question.searched, tuple(wrong), (0,) * len(wrong)) if wrong else None
    if answering:
        positive = candidate_text(answering[0], words)
    else:  # not found by the pipeline: the provision it is tied to still teaches what answers
        positive = passage_text(listing[question.provisions[0]])
    return Group(question.searched, (positive, *wrong), (1,) + (0,) * len(wrong))


def train_reader(
    base_dir: Path,
    groups: Sequence[Group],
    out_dir: Path,
    recipe: ReaderRecipe = ReaderRecipe(),
    progress: Callable[[str], None] = print,
) -> dict[str, float]:
    """Train the reader from the packaged model in `base_dir` on the groups and save its shipped files (fp16 weights
    without the word embeddings, its settings, SHA256SUMS) in `out_dir`; returns the last loss and the time taken."""
    import numpy as np
    import torch
    from safetensors.torch import save_file
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # "some weights were newly initialised" is the point: the head is new
    hf_logging.disable_progress_bar()
    if not groups:
        raise ValueError("no training groups to train the reader on")
    random.seed(recipe.seed)
    np.random.seed(recipe.seed)
    torch.manual_seed(recipe.seed)
    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(str(base_dir), local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(
        str(base_dir), num_labels=1, num_hidden_layers=recipe.layers, local_files_only=True
    )
    model.bert.embeddings.word_embeddings.weight.requires_grad = False
    params = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(params, lr=recipe.learning_rate, weight_decay=0.01)
    plan = []
    for epoch in range(recipe.epochs):
        order = list(groups)
        random.Random(recipe.seed + epoch).shuffle(order)
        plan += [order[i : i + recipe.questions_per_step] for i in range(0, len(order), recipe.questions_per_step)]
    total = len(plan)
    warmup = max(1, total // 10)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: min((step + 1) / warmup, max(0.0, (total - step) / max(1, total - warmup)))
    )
    bce = torch.nn.BCEWithLogitsLoss()
    model.train()
    losses: list[float] = []
    for step, batch in enumerate(plan, start=1):
        pairs = [(g.question, t) for g in batch for t in g.texts]
        labels = torch.tensor([float(y) for g in batch for y in g.labels])
        encoded = tokenizer(
            [q for q, _ in pairs],
            [t for _, t in pairs],
            truncation="only_second",
            max_length=recipe.max_tokens,
            padding=True,
            return_tensors="pt",
        )
        if recipe.pooling == "cls":
            logits = model(**encoded).logits[:, 0]
        else:  # the masked mean of the token vectors, as the packaged bi-encoder pools them
            hidden = model.bert(**encoded).last_hidden_state
            mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
            logits = model.classifier(model.dropout(pooled))[:, 0]
        loss = bce(logits, labels)
        start = 0
        listwise = []
        for g in batch:
            end = start + len(g.texts)
            if 1 in g.labels and len(g.texts) > 1:
                listwise.append(torch.nn.functional.cross_entropy(logits[start:end][None], torch.tensor([0])))
            start = end
        if listwise:
            loss = loss + torch.stack(listwise).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        scheduler.step()
        losses.append(float(loss.detach()))
        if step % 25 == 0 or step == total:
            progress(f"reader step {step}/{total} loss {np.mean(losses[-25:]):.3f}")
    model.eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    state = {
        k: v.detach().to(torch.float16).contiguous()
        for k, v in model.state_dict().items()
        if k != f"bert.{WORD_EMBEDDINGS}"
        and "position_ids" not in k
        and (recipe.pooling == "cls" or not k.startswith("bert.pooler."))
    }
    save_file(state, str(out_dir / WEIGHTS))
    config = {
        "layers": recipe.layers,
        "max_tokens": recipe.max_tokens,
        "candidates": recipe.candidates,
        "pooling": recipe.pooling,
        "precision": recipe.precision,
        "words": recipe.words,
    }
    (out_dir / CONFIG).write_text(json.dumps(config, indent=1) + "\n", encoding="utf-8")
    write_sums(out_dir, FILES)
    return {
        "loss": float(np.mean(losses[-50:])),
        "seconds": time.perf_counter() - started,
        "groups": float(len(groups)),
        "steps": float(total),
        "recipe": asdict(recipe),  # type: ignore[dict-item]
    }
