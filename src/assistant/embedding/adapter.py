"""The project's own embedding model: the packaged all-MiniLM-L6-v2 with the LoRA adapter trained here on questions
about these texts (`models/cfsp-minilm/`, see its MODEL_CARD.md).

The adapter's files are checked against `models/cfsp-minilm/SHA256SUMS` at every load. At first use it is merged into
the verified packaged weights (peft) and the merged model is written to `DATA_DIR/models/cfsp-minilm-<sha>/`, a
complete sentence-transformers folder that the torch and ONNX backends load like the packaged one; its own sha256 is
recorded beside it and checked on every later load, so a damaged merged file is merged again.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path

from ..config import PROJECT_ROOT, TUNED_MODEL, Settings
from ..errors import ModelError
from . import model_files
from .model_files import SUMS, packaged_model_dir, sha256_file

ADAPTER_DIR = PROJECT_ROOT / "models" / TUNED_MODEL
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")
RECORD = "merged.json"
RETRAIN = "retrain it with `cfsp-assistant train encoder` or restore models/cfsp-minilm from git"


def read_sums(adapter_dir: Path) -> dict[str, str]:
    """File name -> sha256 from the adapter's SHA256SUMS."""
    return model_files.read_sums(adapter_dir, "embedding adapter", RETRAIN)


def write_sums(adapter_dir: Path) -> None:
    """Record the sha256 of the adapter's files (after training)."""
    model_files.write_sums(adapter_dir, ADAPTER_FILES)


def verify_adapter(adapter_dir: Path) -> str:
    """The adapter's identity (the first 12 hex digits of its weights' sha256) once every file matches its recorded
    sha256; a missing or damaged file is a ModelError naming it and the fix."""
    sums = model_files.verify_sums(adapter_dir, ADAPTER_FILES, "embedding adapter", RETRAIN)
    return sums["adapter_model.safetensors"][:12]


def adapter_identity(adapter_dir: Path = ADAPTER_DIR) -> str:
    """The model name an index built with the adapter records ("cfsp-minilm@<sha>"), from its recorded checksums."""
    sums = read_sums(adapter_dir)
    if "adapter_model.safetensors" not in sums:
        raise ModelError(f"{adapter_dir / SUMS} has no sha256 for adapter_model.safetensors: {RETRAIN}")
    return f"{TUNED_MODEL}@{sums['adapter_model.safetensors'][:12]}"


def tuned_model_dir(models: Path, adapter_dir: Path = ADAPTER_DIR) -> tuple[Path, str]:
    """(folder of the merged model, sha256 of its weights), merging the verified adapter into the verified packaged
    weights first when that has not been done (or the merged file is damaged)."""
    identity = verify_adapter(adapter_dir)
    target = models / f"{TUNED_MODEL}-{identity}"
    return model_files.derived_model_dir(
        target,
        RECORD,
        lambda out: _merge(packaged_model_dir(models), adapter_dir, out),
        "merged embedding model",
    )


def _merge(base: Path, adapter_dir: Path, out: Path) -> None:
    """Write the packaged model's folder with the adapter merged into its weights, and the record of them."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from peft import PeftModel
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()

    shutil.copytree(base, out, dirs_exist_ok=True)
    with warnings.catch_warnings():  # the libraries' deprecation notices are not the user's concern
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        model = AutoModel.from_pretrained(str(base), local_files_only=True)
        try:
            merged = PeftModel.from_pretrained(model, str(adapter_dir), local_files_only=True).merge_and_unload()
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise ModelError(f"cannot apply the embedding adapter in {adapter_dir} ({exc}): {RETRAIN}") from None
        (out / "model.safetensors").unlink(missing_ok=True)
        merged.save_pretrained(str(out), safe_serialization=True)
    weights = out / "model.safetensors"
    record = {"weights": sha256_file(weights), "adapter": verify_adapter(adapter_dir)}
    (out / RECORD).write_text(json.dumps(record, indent=1), encoding="utf-8")


def model_identity(settings: Settings) -> str:
    """The model name an index built with these settings records (the fine-tuned model's names its adapter)."""
    if settings.embedding_provider == "local" and settings.embedding_model == TUNED_MODEL:
        return adapter_identity(settings.embedding_adapter)
    return settings.embedding_model
