"""The ONNX files of a local model, made at first use from its verified weights and checked on every load.

They live in the models folder (`CFSP_MODEL_CACHE`, by default `DATA_DIR/models/`), in `<model folder>-onnx/`
(`all-MiniLM-L6-v2-onnx/` for the packaged model) with `checksums.json`, which records each file's sha256 and the sha256
of the weights it was made from. A file that is missing, does not match its record or was made from other weights or
by another recipe is built again (in a child process, `assistant.embedding.onnx_export`, so torch never enters a
serving process). Building holds a lock and renames a finished file into place, so several processes starting at
once (`CFSP_WORKERS`) build it once and never read half a file.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..config import PACKAGED_MODEL
from ..errors import DataDirError, ModelError
from .model_files import sha256_file

log = logging.getLogger(__name__)

FILES = {"fp32": "model.onnx", "int8": "model-int8.onnx"}
RECORD = "checksums.json"
RECIPE = 1  # raise when the export or quantisation changes: files made by an older recipe are rebuilt
BUILD_TIMEOUT_S = 900
NOT_BUILT = "not built yet"


def onnx_folder(models: Path, model: str = PACKAGED_MODEL) -> Path:
    """Where the ONNX files of a local model (the packaged one, or the merged fine-tuned one) are kept."""
    return models / f"{model}-onnx"


def _records(folder: Path) -> dict[str, dict]:
    try:
        data = json.loads((folder / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _problem(folder: Path, variant: str, weights_sha256: str) -> str | None:
    """Why the file of a variant cannot be used as it is (None when it can)."""
    path = folder / FILES[variant]
    if not path.is_file():
        return NOT_BUILT
    record = _records(folder).get(path.name)
    if not isinstance(record, dict) or record.get("recipe") != RECIPE or record.get("weights") != weights_sha256:
        return "no record of how it was made"
    if sha256_file(path) != record.get("sha256"):
        return "its sha256 does not match the one recorded when it was built"
    return None


@contextmanager
def _build_lock(folder: Path) -> Iterator[None]:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fh = (folder / ".lock").open("w")
    except OSError as exc:
        raise DataDirError(
            f"cannot write the ONNX model into {folder} ({exc.strerror or exc}): set CFSP_DATA_DIR to a writable folder"
        ) from None
    with fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # another process building the same file: wait for it, then use its file
        yield


def _build(folder: Path, variant: str, source: Path, weights_sha256: str) -> None:
    """Make one file in a child process, then move it into place and record its checksum."""
    target = folder / FILES[variant]
    fd, name = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "assistant.embedding.onnx_export", variant, str(source), str(tmp)],
            capture_output=True,
            text=True,
            env=env,
            timeout=BUILD_TIMEOUT_S,
        )
        if done.returncode != 0 or not tmp.stat().st_size:
            lines = [ln for ln in done.stderr.splitlines() if ln.strip()] or [f"exit status {done.returncode}"]
            raise ModelError(
                f"cannot build the ONNX model {target} ({lines[-1].strip()[:200]}): set CFSP_EMBEDDING_BACKEND=torch"
            )
        tmp.chmod(0o644)
        digest = sha256_file(tmp)
        os.replace(tmp, target)
    except subprocess.TimeoutExpired:
        raise ModelError(f"building the ONNX model {target} took over {BUILD_TIMEOUT_S} s") from None
    finally:
        tmp.unlink(missing_ok=True)
    records = _records(folder)
    records[target.name] = {"sha256": digest, "weights": weights_sha256, "recipe": RECIPE}
    record = folder / f".{RECORD}.{os.getpid()}.tmp"
    record.write_text(json.dumps(records, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(record, folder / RECORD)


def ensure_onnx_model(model_dir: Path, models: Path, variant: str, weights_sha256: str) -> Path:
    """The verified ONNX file of a variant ("fp32" or "int8"), built first (in the models folder) when it is missing
    or does not verify."""
    folder = onnx_folder(models, model_dir.name)
    if _problem(folder, variant, weights_sha256) is None:  # the usual case: no lock, nothing written
        return folder / FILES[variant]
    # the int8 file is made from the fp32 one (checked or built first, before this variant's lock is taken)
    source = model_dir if variant == "fp32" else ensure_onnx_model(model_dir, models, "fp32", weights_sha256)
    with _build_lock(folder):
        problem = _problem(folder, variant, weights_sha256)  # another process may have built it while we waited
        if problem is None:
            return folder / FILES[variant]
        level = logging.INFO if problem == NOT_BUILT else logging.WARNING
        log.log(level, "building the ONNX model %s (%s)", folder / FILES[variant], problem)
        _build(folder, variant, source, weights_sha256)
        problem = _problem(folder, variant, weights_sha256)
        if problem is not None:
            raise ModelError(f"the ONNX model just built in {folder} does not verify ({problem})")
    return folder / FILES[variant]
