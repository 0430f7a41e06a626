"""Checkpoints: saving a trained model and loading it back, safely (notebooks 05-08).

Weights in safetensors (no pickled code), the config and the tokenizer in
JSON; a save replaces a checkpoint whole or not at all; every file is checked
before a model is built from it. Also the trained model shipped with the
course (:data:`PRETRAINED`, :func:`load_pretrained`).

These names are importable from :mod:`glmlib.model` too, where they lived first.
"""
from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from .data import CHECKOUT_DATA
from .device import pick_device
from .model import GPT, GPTConfig
from .tokenizers import CharTokenizer, Tokenizer, tokenizer_from_record

# The shipped model: data/ in a checkout; glmlib/_shipped/ (the same two files, as
# package data) in an installed package. It is only read, never written.
_INSTALLED_DATA = Path(__file__).resolve().parent / "_shipped"
SHIPPED_DIR = _INSTALLED_DATA if (_INSTALLED_DATA / "shakespeare_gpt.json").is_file() else CHECKOUT_DATA
DATA_DIR = SHIPPED_DIR  # the older name
PRETRAINED = SHIPPED_DIR / "shakespeare_gpt"



# A checkpoint NAME is two files, NAME.safetensors and NAME.json.
#
# Format 2 (written now): the safetensors file is the whole checkpoint, its
# tensors and, in its header metadata, the record (config, tokenizer, extra) as
# JSON text. One file is replaced by one rename, so a save replaces a checkpoint
# whole or not at all; no pair of renames can promise that, and a folder with a
# manifest would change every path users and the notebooks know. NAME.json is a
# readable copy of the record, renamed into place just after the weights.
#
# Format 1 (the model shipped in data/): the record lives only in NAME.json.
# Both formats load; the record inside the safetensors file wins when present.
#
# Since glmlib 0.1 + #24 the header also holds CHECKSUM_KEY, the SHA-256 of every
# byte after the header (all tensors), checked on every load; files without one
# (older saves, the shipped model) load unchecked, as before.
#
# The record's "tokenizer" is Tokenizer.to_record(): the tokenizer's state and its
# "kind" ("char", ...). Records written before kinds existed have none, and are
# character tokenizers (glmlib.tokenizers.tokenizer_from_record).

FORMAT = "glmlib-gpt"
RECORD_KEY = "glmlib.record"
TRAIN_STATE = "train_state."  # prefix of the tensors saved with ``train_state``
RESERVED = ("config", "tokenizer")  # record keys that ``extra`` may not set
WEIGHT_DTYPES = ("F64", "F32", "F16", "BF16")
CHECKSUM_KEY = "glmlib.sha256"  # header metadata: the SHA-256 of the tensors' bytes
STALE_TEMP_SECONDS = 3600  # a temporary file this old is left over, whoever made it


class CheckpointConflict(FileExistsError):
    """Another run or program wrote the checkpoint after this writer last saw it; not replaced."""


class CheckpointWriteError(OSError):
    """A save failed (disk full, no permission, ...); the checkpoint already there is unchanged.
    Its ``str`` is one line naming the file and what went wrong."""

    def __str__(self) -> str:
        return str(self.strerror)


def checkpoint_paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """``NAME.safetensors`` and ``NAME.json`` for the checkpoint ``NAME``.

    The suffixes are appended to the whole name, so ``run.v1`` and ``run.v2``
    (or ``lr0.001``) name different checkpoints; ``NAME.safetensors`` and
    ``NAME.json`` name the same pair as ``NAME``.
    """
    raw = os.fspath(path)
    path = Path(path)
    if path.suffix in (".safetensors", ".json"):
        path = path.with_suffix("")
    if path.name in (".safetensors", ".json"):
        raise ValueError(f"a checkpoint needs a file name before {path.name!r}, got {raw!r} "
                         f"(e.g. 'model{path.name}' or just 'model')")
    if not path.name or path.name in (".", "..") or raw.endswith(("/", os.sep)):
        raise ValueError(f"a checkpoint needs a file name, got {raw!r}"
                         + (f"; to save inside that folder, name the file: {raw.rstrip('/' + os.sep)}/model"
                            if raw.endswith(("/", os.sep)) and path.name not in ("", ".", "..") else ""))
    return path.with_name(path.name + ".safetensors"), path.with_name(path.name + ".json")



def _check_fields(fields: object, name: str) -> None:
    """Fields a caller adds to a checkpoint's record: a dict of JSON values, none of the reserved keys."""
    if not isinstance(fields, dict):
        raise TypeError(f"{name} must be a dict, got {type(fields).__name__}")
    clash = sorted(set(fields) & set(RESERVED))
    if clash:
        raise ValueError(f"{name} may not set {clash}: the checkpoint records the model's own config "
                         f"and tokenizer")
    _check_json(fields, name)

def _check_json(value: object, where: str) -> None:
    """Raise, naming ``where``, unless ``value`` is plain JSON: finite numbers, str keys."""
    if value is None or isinstance(value, (bool, int, str)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where} is {value!r}; JSON has no NaN or infinity")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_json(item, f"{where}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where} has the key {key!r}; JSON keys must be str")
            _check_json(item, f"{where}[{key!r}]")
    else:
        raise TypeError(f"{where} is a {type(value).__name__} ({value!r:.60}), which JSON cannot hold; "
                        f"convert it first (a tensor with float(x) or x.tolist())")


def _new_file_mode() -> int:
    """The permissions ``open()`` gives a new file: ``0o666`` less the umask."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def _write_temp(target: Path, data: bytes, mode: int) -> Path:
    """``data`` in a new hidden file next to ``target`` (``.NAME.<pid>.<random>.tmp``), flushed."""
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp")
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)  # mkstemp makes 0600; both files get the same, usual mode
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _running(pid: int) -> bool:
    """Whether a process ``pid`` runs on this machine (a reused id counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True
    return True


def remove_stale_temps(target: Path) -> list[Path]:
    """Remove the temporary files an interrupted save of ``target`` left (``kill -9``, power loss).

    A temporary file is left over when the process that wrote it is gone
    (its id is in the name) or it is older than :data:`STALE_TEMP_SECONDS`;
    a save in progress elsewhere keeps its own. Returns what was removed.
    """
    removed = []
    prefix = f".{target.name}."
    try:
        candidates = [p for p in target.parent.iterdir() if p.name.startswith(prefix) and p.name.endswith(".tmp")]
    except OSError:
        return removed
    for tmp in candidates:
        pid_text = tmp.name[len(prefix):].split(".", 1)[0]
        try:
            old = time.time() - tmp.lstat().st_mtime > STALE_TEMP_SECONDS
        except OSError:
            continue
        if not tmp.is_file() or tmp.is_symlink():
            continue
        gone = pid_text.isdigit() and int(pid_text) != os.getpid() and not _running(int(pid_text))
        if gone or old:
            try:
                tmp.unlink()
                removed.append(tmp)
            except OSError:
                pass
    return removed


@dataclass(frozen=True)
class FileStamp:
    """Which file a path holds: its device, inode, size and modification time."""
    dev: int
    ino: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: str | os.PathLike) -> "FileStamp | None":
        """The stamp of the file at ``path``, or ``None`` when there is none."""
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class Claim:
    """A writer's hold on a checkpoint name, for :func:`save_checkpoint`'s ``claim``.

    It remembers the weights file the writer found there when it started
    (``None``: none) and then the one it last wrote. A save with the claim
    replaces only that file: when another run or program has written the
    checkpoint meanwhile, it raises :class:`CheckpointConflict` and leaves
    their file alone. Where there was none, the new file is linked into
    place, which fails if one has appeared, so two writers cannot both
    create it. (A replacement is checked just before its rename: a writer
    slipping in between those two steps is not caught.)
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.weights = checkpoint_paths(path)[0]
        self.stamp = FileStamp.of(self.weights)

    def check(self) -> None:
        now = FileStamp.of(self.weights)
        if now != self.stamp:
            raise _conflict(self.weights, "appeared" if self.stamp is None
                            else "was removed" if now is None else "was replaced")


def _conflict(weights: Path, what: str) -> CheckpointConflict:
    return CheckpointConflict(f"checkpoint {weights} {what} after this run started (another run or program "
                              f"with the same --out?); not replaced, so this model is not saved: use another out")


def _commit_new(tmp: Path, weights: Path) -> None:
    """Put ``tmp`` at ``weights`` only if nothing is there (a hard link, or O_EXCL where links fail)."""
    try:
        os.link(tmp, weights)
        return
    except FileExistsError:
        raise _conflict(weights, "appeared") from None
    except OSError:
        pass  # a file system without hard links: reserve the name, then rename over it
    try:
        os.close(os.open(weights, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        raise _conflict(weights, "appeared") from None
    try:
        os.replace(tmp, weights)
    except BaseException:
        weights.unlink(missing_ok=True)  # our empty placeholder, not a checkpoint
        raise


def _sync_folder(folder: Path) -> None:
    """Make the renames in ``folder`` durable (POSIX; elsewhere a no-op)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _make_folder(folder: Path) -> None:
    """Create ``folder`` (and its parents) unless it exists; a file in the way is named."""
    for parent in (folder, *folder.parents):
        if parent.exists():
            if not parent.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, f"{parent} is a file, not a folder")
            break
    folder.mkdir(parents=True, exist_ok=True)


def _data_section(blob: bytes | memoryview) -> memoryview:
    """The bytes after a safetensors file's header: every tensor, nothing else."""
    view = memoryview(blob)
    return view[8 + int.from_bytes(view[:8], "little"):]


def _serialize(tensors: dict[str, torch.Tensor], text: str) -> bytes:
    """The safetensors file: the tensors, the record and the checksum of the tensors' bytes."""
    from safetensors.torch import save

    metadata = {"format": FORMAT, RECORD_KEY: text}
    digest = hashlib.sha256(_data_section(save(tensors, metadata=metadata))).hexdigest()
    blob = save(tensors, metadata={**metadata, CHECKSUM_KEY: digest})
    if hashlib.sha256(_data_section(blob)).hexdigest() != digest:  # the layout cannot depend on the header
        raise RuntimeError("safetensors laid the tensors out differently twice; not saved")
    return blob


def _write_checkpoint(weights: Path, sidecar: Path, tensors: dict[str, torch.Tensor], record: dict,
                      claim: Claim | None = None) -> None:
    """Both files to temporary files, flushed; then the renames (the weights' is the commit)."""
    text = json.dumps(record, indent=2, allow_nan=False) + "\n"
    blob = _serialize(tensors, text)
    try:
        _make_folder(weights.parent)
        for target in (weights, sidecar):
            remove_stale_temps(target)
        temps: list[Path] = []
        try:
            mode = _new_file_mode()
            temps.append(_write_temp(weights, blob, mode))
            temps.append(_write_temp(sidecar, text.encode("utf-8"), mode))
            written = FileStamp.of(temps[0])  # a rename or link keeps it
            if claim is None:
                os.replace(temps[0], weights)
            else:
                claim.check()
                if claim.stamp is None:
                    _commit_new(temps[0], weights)
                else:
                    os.replace(temps[0], weights)
                claim.stamp = written
            os.replace(temps[1], sidecar)
            _sync_folder(weights.parent)
        finally:
            for tmp in temps:
                tmp.unlink(missing_ok=True)
    except CheckpointConflict:
        raise
    except OSError as err:
        kept = "the checkpoint already there is unchanged" if weights.exists() else "nothing was saved"
        if err.errno in (errno.ENOSPC, errno.EDQUOT):
            raise CheckpointWriteError(err.errno, f"cannot write checkpoint {weights}: the disk is full "
                                                  f"({err.strerror or err}); {kept}: free some space or "
                                                  f"choose another out") from None
        # OSError(errno, ...) is the errno's own class (NotADirectoryError, PermissionError, ...)
        raise OSError(err.errno, f"cannot write checkpoint {weights}: {err.strerror or err}; {kept}") from None


def _model_tensors(model: GPT) -> dict[str, torch.Tensor]:
    """The weights to store: every tensor once (``lm_head.weight`` is ``wte.weight``), finite."""
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()
             if k != "lm_head.weight"}
    bad = sorted(k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all())
    if bad:
        raise ValueError(f"the model's weights {bad[:5]} contain NaN or infinite values; not saved")
    return state


def save_checkpoint(model: GPT, tokenizer: Tokenizer, path: str | os.PathLike,
                    extra: dict | None = None, *, train_state: dict[str, torch.Tensor] | None = None,
                    claim: Claim | None = None) -> Path:
    """Write the checkpoint ``path``: ``path.safetensors`` and its readable copy ``path.json``.

    The record holds the config, the tokenizer and ``extra`` (JSON values; it
    may not set ``config`` or ``tokenizer``). ``train_state`` (named tensors,
    e.g. optimizer moments) is stored too, for :func:`load_train_state`.

    The record goes inside the safetensors header as well as into the
    ``.json`` file: the ``.safetensors`` file alone is then the whole
    checkpoint, and one rename replaces it whole. (Two files cannot be renamed
    as one; a folder with a manifest could, but would change the paths that
    users and the notebooks know.) Everything is checked and both files are
    written to temporary files, flushed, before anything is replaced, so a
    failed or interrupted save leaves the previous checkpoint as it was, and
    the temporary files an earlier save left when it was killed are removed.
    The header also holds the SHA-256 of the tensors, checked on every load.
    With ``claim`` (a :class:`Claim`) the save replaces only the file the
    claim holds, else raises :class:`CheckpointConflict`; without, it
    replaces whatever is there.
    Returns the path of the ``.safetensors`` file.
    """
    if not isinstance(model, GPT):
        raise TypeError(f"model must be a glmlib.model.GPT, got {type(model).__name__}")
    if not isinstance(tokenizer, Tokenizer):
        raise TypeError(f"tokenizer must be a glmlib.tokenizers.Tokenizer (such as CharTokenizer), "
                        f"got {type(tokenizer).__name__}")
    if tokenizer.vocab_size != model.config.vocab_size:
        raise ValueError(f"the tokenizer has {tokenizer.vocab_size} tokens but the model expects "
                         f"{model.config.vocab_size}")
    extra = {} if extra is None else extra
    _check_fields(extra, "extra")
    tensors = _model_tensors(model)
    for name, value in (train_state or {}).items():
        if not isinstance(name, str) or not isinstance(value, torch.Tensor):
            raise TypeError(f"train_state must map str names to tensors, got {name!r}: {type(value).__name__}")
        tensors[TRAIN_STATE + name] = value.detach().contiguous().cpu()
    record = {"config": asdict(model.config), "tokenizer": tokenizer.to_record(), **extra}
    weights, sidecar = checkpoint_paths(path)
    check_not_a_folder(weights)
    _write_checkpoint(weights, sidecar, tensors, record, claim)
    return weights


def check_not_a_folder(weights: Path) -> None:
    """Refuse a checkpoint name that is a folder (``runs`` would write ``runs.safetensors`` beside it)."""
    base = weights.with_name(weights.name[:-len(".safetensors")])
    if base.is_dir():
        raise ValueError(f"{str(base)!r} is a folder; a checkpoint needs a file name, e.g. {str(base / 'model')!r}")


def _read_header(weights: Path) -> tuple[dict[str, tuple[list[int], str]], dict[str, str]]:
    """``{name: (shape, dtype)}`` and the metadata of a safetensors file, reading only its header."""
    from safetensors import SafetensorError, safe_open

    if not weights.exists():
        raise FileNotFoundError(f"checkpoint file {weights} not found")
    if not weights.is_file():
        raise ValueError(f"{weights} is not a file, so not a checkpoint")
    try:
        with safe_open(str(weights), "pt") as f:
            tensors = {k: (f.get_slice(k).get_shape(), f.get_slice(k).get_dtype()) for k in f.keys()}
            return tensors, dict(f.metadata() or {})
    except (SafetensorError, OSError, ValueError) as err:
        raise ValueError(f"{weights} is not a readable safetensors file (truncated or corrupt?): {err}") from None


def _verify_checksum(weights: Path, metadata: dict[str, str]) -> None:
    """The tensors' bytes against the SHA-256 in the header (files saved without one pass)."""
    expected = metadata.get(CHECKSUM_KEY)
    if expected is None:
        return
    digest = hashlib.sha256()
    try:
        with open(weights, "rb") as f:
            f.seek(8 + int.from_bytes(f.read(8), "little"))
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    except OSError as err:
        raise ValueError(f"{weights} cannot be read: {err.strerror or err}") from None
    if digest.hexdigest() != expected:
        raise ValueError(f"{weights} is damaged: its tensors do not match the SHA-256 saved with them "
                         f"(a changed byte, or an incomplete copy); it cannot be used")


def _load_tensors(weights: Path, names: list[str]) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(weights), "pt") as f:
            return {k: f.get_tensor(k) for k in names}
    except (SafetensorError, OSError, ValueError) as err:
        raise ValueError(f"{weights} is not a readable safetensors file (truncated or corrupt?): {err}") from None


def _parse_record(text: str, source: Path) -> dict:
    try:
        record = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as err:
        raise ValueError(f"{source} is not a valid checkpoint config: {err!r}") from None
    if not isinstance(record, dict) or not all(isinstance(record.get(k), dict) for k in RESERVED):
        raise ValueError(f"{source} is not a valid checkpoint config: it needs a 'config' and a "
                         f"'tokenizer' object")
    return record


def _read_sidecar(sidecar: Path) -> dict:
    if not sidecar.is_file():
        raise FileNotFoundError(f"checkpoint file {sidecar} not found")
    try:
        text = sidecar.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{sidecar} is not a valid checkpoint config: not UTF-8 text ({err})") from None
    return _parse_record(text, sidecar)


def _read_record(weights: Path, sidecar: Path, metadata: dict[str, str]) -> tuple[dict, Path]:
    """The checkpoint's record and the file it came from (format 2: the weights file)."""
    if metadata.get("format", FORMAT) != FORMAT:
        raise ValueError(f"{weights} is not a glmlib checkpoint: its format is "
                         f"{metadata['format']!r}, expected {FORMAT!r}")
    if RECORD_KEY not in metadata:  # format 1
        return _read_sidecar(sidecar), sidecar
    record = _parse_record(metadata[RECORD_KEY], weights)
    if sidecar.exists():
        try:
            same = _read_sidecar(sidecar) == record
        except (OSError, ValueError):
            same = False
        if not same:
            warnings.warn(f"{sidecar} differs from the record inside {weights} (edited by hand, or "
                          f"a save was interrupted between the two files); using the one in "
                          f"{weights.name}", stacklevel=3)
    return record, weights


def _config_and_tokenizer(record: dict, source: Path) -> tuple[GPTConfig, Tokenizer]:
    """The record's config and tokenizer, checked; errors name ``source``."""
    try:
        config = GPTConfig.from_dict(record["config"])
    except (TypeError, ValueError) as err:
        raise ValueError(f"{source}: bad config: {err}") from None
    try:
        tokenizer = tokenizer_from_record(record["tokenizer"])
    except (TypeError, ValueError, KeyError) as err:
        raise ValueError(f"{source}: bad tokenizer: {err}") from None
    if tokenizer.vocab_size != config.vocab_size:
        raise ValueError(f"{source}: tokenizer has {tokenizer.vocab_size} tokens but "
                         f"config.vocab_size is {config.vocab_size}")
    return config, tokenizer


def _check_shapes(weights: Path, header: dict[str, tuple[list[int], str]], config: GPTConfig) -> list[str]:
    """Compare the stored tensors with what ``config`` needs, before allocating anything.

    The shapes come from a model on the ``meta`` device (no memory). Once
    they match, building the real model needs no more memory than the file
    holds. Returns the names of the weights to load.
    """
    with torch.device("meta"):
        expected = {k: list(v.shape) for k, v in GPT(config).state_dict().items() if k != "lm_head.weight"}
    stored = {k: v for k, v in header.items() if not k.startswith(TRAIN_STATE)}
    missing = sorted(set(expected) - set(stored))
    unexpected = sorted(set(stored) - set(expected))
    wrong = sorted(k for k in set(expected) & set(stored) if stored[k][0] != expected[k])
    if missing or unexpected or wrong:
        details = "; ".join(
            f"{label}: {names[:5]}" for label, names in
            (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)) if names)
        raise ValueError(f"{weights} does not match its config {asdict(config)}: {details}")
    not_float = sorted(k for k, (_, dtype) in stored.items() if dtype not in WEIGHT_DTYPES)
    if not_float:
        raise ValueError(f"{weights}: the weights {not_float[:5]} are not floating point "
                         f"({stored[not_float[0]][1]}); expected one of {WEIGHT_DTYPES}")
    return sorted(expected)


def load_checkpoint(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[GPT, Tokenizer, dict]:
    """Load a checkpoint written by :func:`save_checkpoint`; no pickled code is run.

    Returns the model (in eval mode), its tokenizer and its record (config,
    tokenizer and whatever ``extra`` was saved). Everything is checked before
    the model is built (the config against sane bounds and against the tensor
    shapes in the safetensors header) and after the weights are read (no NaN or
    infinity); a bad file raises ``ValueError`` naming it, a missing one
    ``FileNotFoundError``.
    """
    device = pick_device(device) if isinstance(device, str) else torch.device(device)
    weights, sidecar = checkpoint_paths(path)
    header, metadata = _read_header(weights)
    record, source = _read_record(weights, sidecar, metadata)
    config, tokenizer = _config_and_tokenizer(record, source)
    _verify_checksum(weights, metadata)
    state = _load_tensors(weights, _check_shapes(weights, header, config))
    bad = sorted(k for k, v in state.items() if not torch.isfinite(v).all())
    if bad:
        raise ValueError(f"{weights}: the weights {bad[:5]} contain NaN or infinite values; "
                         f"this checkpoint cannot be used (saved from a diverged run?)")
    model = GPT(config)
    model.load_state_dict(state, strict=False)  # lm_head.weight is tied to wte.weight
    return model.to(device).eval(), tokenizer, record


def load_train_state(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The ``train_state`` tensors saved with the checkpoint ``path`` (empty if none)."""
    weights, _ = checkpoint_paths(path)
    header, metadata = _read_header(weights)
    _verify_checksum(weights, metadata)
    names = [k for k in header if k.startswith(TRAIN_STATE)]
    return {k[len(TRAIN_STATE):]: v for k, v in _load_tensors(weights, names).items()}


def load_record(path: str | os.PathLike) -> dict:
    """The record of the checkpoint ``path`` (config, tokenizer, extra), checked like
    :func:`load_checkpoint` checks it, without building the model."""
    weights, sidecar = checkpoint_paths(path)
    header, metadata = _read_header(weights)
    record, source = _read_record(weights, sidecar, metadata)
    config, _ = _config_and_tokenizer(record, source)
    _check_shapes(weights, header, config)
    _verify_checksum(weights, metadata)
    return record


def update_record(path: str | os.PathLike, changes: dict, *, drop_train_state: bool = False,
                  claim: Claim | None = None) -> Path:
    """Rewrite the checkpoint ``path`` with ``changes`` merged into its record, its weights unchanged.

    For what a run learns after its last save, e.g. that it finished
    (:mod:`glmlib.train` marks a run whose best model came before its end this
    way, without saving the later, worse model). The file is checked as
    :func:`load_checkpoint` checks it and replaced whole, as
    :func:`save_checkpoint` replaces it (``claim`` likewise); with
    ``drop_train_state`` the training state is left out. Returns the path of
    the ``.safetensors`` file.
    """
    _check_fields(changes, "changes")
    weights, sidecar = checkpoint_paths(path)
    if claim is not None:
        claim.check()
    header, metadata = _read_header(weights)
    record, source = _read_record(weights, sidecar, metadata)
    config, _ = _config_and_tokenizer(record, source)
    names = _check_shapes(weights, header, config)
    if not drop_train_state:
        names += [k for k in header if k.startswith(TRAIN_STATE)]
    _verify_checksum(weights, metadata)
    _write_checkpoint(weights, sidecar, _load_tensors(weights, names), {**record, **changes}, claim)
    return weights


def load_pretrained(device: str | torch.device = "cpu") -> tuple[GPT, CharTokenizer]:
    """The trained Shakespeare model shipped in ``data/`` (:data:`PRETRAINED`), ready for inference."""
    model, tokenizer, _ = load_checkpoint(PRETRAINED, device)
    return model, tokenizer
