"""Fine-tunes the packaged MiniLM bi-encoder on questions written from the texts: a LoRA adapter (peft) trained
with in-batch negatives plus one hard negative from the same document (sentence-transformers'
MultipleNegativesRankingLoss), so a question lands nearer the provision that answers it than its neighbours.

Only the adapter is kept (a few MB); `assistant.embedding.adapter` merges it into the verified packaged weights at load.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .data import TrainingQuestion
from .listing import ProvisionEntry

TARGET_MODULES = ["query", "key", "value", "attention.output.dense", "intermediate.dense", "output.dense"]


@dataclass(frozen=True)
class EncoderRecipe:
    """Everything that decides the adapter, so a run can be repeated exactly."""

    epochs: int = 2
    batch_size: int = 32
    learning_rate: float = 3e-4
    rank: int = 16
    alpha: int = 32
    dropout: float = 0.1
    max_tokens: int = 128  # provisions longer than this are cut for training (most are about this long)
    hard_negatives: bool = True
    seed: int = 13
    scale: float = 20.0


def passage_text(entry: ProvisionEntry) -> str:
    """What a provision looks like to the model: its headings, then its words (as ingest embeds passages)."""
    return f"{entry.headings}\n{entry.text}" if entry.headings else entry.text


def training_pairs(
    questions: list[TrainingQuestion], listing: Mapping[str, ProvisionEntry], recipe: EncoderRecipe
) -> list[tuple[str, str, str, str]]:
    """(question, provision id, provision text, hard negative text): one row per question and answering provision;
    the hard negative is another provision of the same article when there is one, else of the same document."""
    rng = random.Random(recipe.seed)
    by_article: dict[tuple[str, str], list[str]] = defaultdict(list)
    by_source: dict[str, list[str]] = defaultdict(list)
    for pid, e in listing.items():
        if e.operative:
            by_article[(e.source_id, e.article)].append(pid)
            by_source[e.source_id].append(pid)
    rows = []
    for q in questions:
        if not q.answerable:
            continue
        gold = set(q.provisions)
        for pid in q.provisions:
            e = listing[pid]
            pool = [p for p in by_article[(e.source_id, e.article)] if p not in gold] if e.article else []
            pool = pool or [p for p in by_source[e.source_id] if p not in gold]
            negative = passage_text(listing[rng.choice(pool)]) if pool else ""
            rows.append((q.searched, pid, passage_text(e), negative))
    return rows


def batches(rows: list[tuple[str, str, str, str]], size: int, seed: int) -> list[list[tuple[str, str, str, str]]]:
    """Shuffled batches in which no provision is the positive twice (it would be its own in-batch negative)."""
    order = rows[:]
    random.Random(seed).shuffle(order)
    out: list[list[tuple[str, str, str, str]]] = []
    pending = order
    while pending:
        batch: list[tuple[str, str, str, str]] = []
        rest: list[tuple[str, str, str, str]] = []
        used: set[str] = set()
        for row in pending:
            if len(batch) < size and row[1] not in used:
                batch.append(row)
                used.add(row[1])
            else:
                rest.append(row)
        out.append(batch)
        pending = rest
    return out


def train_adapter(
    base_dir: Path,
    questions: list[TrainingQuestion],
    listing: Mapping[str, ProvisionEntry],
    out_dir: Path,
    recipe: EncoderRecipe = EncoderRecipe(),
    progress: Callable[[str], None] = print,
) -> dict[str, float]:
    """Train a LoRA adapter on the packaged model in `base_dir` and save it (adapter_model.safetensors and
    adapter_config.json) in `out_dir`; returns the mean loss of the last epoch and the time taken."""
    import numpy as np
    import torch
    from peft import LoraConfig, get_peft_model
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.losses import MultipleNegativesRankingLoss

    random.seed(recipe.seed)
    np.random.seed(recipe.seed)
    torch.manual_seed(recipe.seed)
    started = time.perf_counter()
    model = SentenceTransformer(str(base_dir), device="cpu", local_files_only=True)
    model.max_seq_length = recipe.max_tokens
    config = LoraConfig(
        r=recipe.rank,
        lora_alpha=recipe.alpha,
        lora_dropout=recipe.dropout,
        target_modules=TARGET_MODULES,
        bias="none",
    )
    # peft injects the LoRA layers into the transformer in place; the wrapper saves just the adapter
    adapter = get_peft_model(model[0].auto_model, config)  # type: ignore[arg-type]
    loss_fn = MultipleNegativesRankingLoss(model, scale=recipe.scale)
    params = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(params, lr=recipe.learning_rate, weight_decay=0.01)
    rows = training_pairs(questions, listing, recipe)
    if not rows:
        raise ValueError("no answerable training questions to train on")
    plan = [batches(rows, recipe.batch_size, recipe.seed + epoch) for epoch in range(recipe.epochs)]
    total = sum(len(p) for p in plan)
    warmup = max(1, total // 10)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: min((step + 1) / warmup, max(0.0, (total - step) / max(1, total - warmup)))
    )
    model.train()
    step, last = 0, 0.0
    for epoch, epoch_batches in enumerate(plan):
        losses = []
        for batch in epoch_batches:
            texts = [[r[0] for r in batch], [r[2] for r in batch]]
            if recipe.hard_negatives and all(r[3] for r in batch):
                texts.append([r[3] for r in batch])
            features = [model.preprocess(t) for t in texts]
            loss = loss_fn(features, torch.zeros(len(batch)))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            scheduler.step()
            losses.append(float(loss.detach()))
            step += 1
            if step % 20 == 0 or step == total:
                progress(f"epoch {epoch + 1}/{recipe.epochs} step {step}/{total} loss {np.mean(losses[-20:]):.3f}")
        last = float(np.mean(losses))
    out_dir.mkdir(parents=True, exist_ok=True)
    adapter.save_pretrained(str(out_dir))
    (out_dir / "README.md").unlink(missing_ok=True)  # peft's blank model card: the project writes its own
    return {"loss": last, "seconds": time.perf_counter() - started, "pairs": float(len(rows)), "steps": float(total)}
