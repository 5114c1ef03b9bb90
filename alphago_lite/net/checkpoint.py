"""Single-file checkpoints of the policy/value net, written atomically and loaded safely.

A checkpoint file is ``torch.save`` of one plain dict (no pickled classes), so it loads with
``torch.load(weights_only=True)``:

    format          "alphago_lite.checkpoint" (tells our files from other .pt files)
    format_version  FORMAT_VERSION; any other value is refused
    arch            PolicyValueNet.arch(): board_size, in_planes, blocks, channels, value_hidden, ...
    model_state     the net's state_dict (CPU tensors)
    feature_set     name of the input planes the net was trained on (see features.py)
    board_size      S
    step            training step (int)
    optimizer_state optional optimizer.state_dict() or None
    extra           plain dict of tensors / numbers / strings (e.g. weights version, run id)

Writes go to a temporary file in the same directory, are fsynced, then ``os.replace``d over the
target, so a crash never leaves a half-written checkpoint under the real name.
Every problem on load raises ``CheckpointError`` naming the file and what is wrong; the architecture
fields are checked against ``ARCH_BOUNDS`` before any net is built, so that a damaged or hostile file
(``arch.blocks = 10**9``) is refused at once instead of allocating memory for ever.
"""

from __future__ import annotations

import os
import reprlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from alphago_lite.errors import UserError
from alphago_lite.go.coords import MAX_SIZE, MIN_SIZE
from alphago_lite.net.model import PolicyValueNet

FORMAT_NAME = "alphago_lite.checkpoint"
FORMAT_VERSION = 1
_REQUIRED_KEYS = ("format", "format_version", "arch", "model_state", "feature_set", "board_size", "step")
ARCH_BOUNDS = {
    "board_size": (MIN_SIZE, MAX_SIZE),  # the sizes the rules engine plays
    "in_planes": (1, 256),               # feature sets have 17 to a few dozen planes
    "blocks": (0, 64),                   # the tower; 0 is a valid (stem and heads only) net
    "channels": (1, 1024),
    "value_hidden": (1, 4096),
}
"""Inclusive bounds of a checkpoint's integer architecture fields (64 blocks of 1024 channels is a net
of about 1.2 billion weights, far above any this project trains)."""


class CheckpointError(UserError):
    """A checkpoint file that is missing, unreadable, of another format, or not the one expected."""


@dataclass(frozen=True)
class CheckpointMeta:
    """Everything in a checkpoint except the weights themselves."""

    path: str
    format_version: int
    arch: dict[str, Any]
    feature_set: str
    board_size: int
    step: int
    optimizer_state: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def save_checkpoint(
    path: str | os.PathLike,
    model: PolicyValueNet,
    *,
    feature_set: str,
    step: int,
    optimizer_state: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Atomically write ``model`` (and optional optimizer state / metadata) to ``path``."""
    path = Path(path)
    payload = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "arch": model.arch(),
        "model_state": {k: v.detach().to("cpu") for k, v in model.state_dict().items()},
        "feature_set": str(feature_set),
        "board_size": int(model.board_size),
        "step": int(step),
        "optimizer_state": optimizer_state,
        "extra": dict(extra or {}),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes the file 0600; a checkpoint gets the mode of any new file (0666 less the umask),
        # as best.pt, a plain copy, does. Reading the umask means setting it, so it is put straight back
        # (0077 meanwhile: a file another thread creates in that instant is too private, never too open).
        with os.fdopen(fd, "wb") as f:
            umask = os.umask(0o077)
            os.umask(umask)
            os.chmod(tmp_name, 0o666 & ~umask)
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; not every platform lets a directory be opened.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load_checkpoint(
    path: str | os.PathLike,
    *,
    expect_board_size: int | None = None,
    expect_feature_set: str | None = None,
) -> tuple[dict[str, torch.Tensor], CheckpointMeta]:
    """Read and validate a checkpoint: returns ``(model_state, meta)``; tensors are on the CPU."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path}: no such file")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for truncated / garbage / unsafe files
        raise CheckpointError(f"checkpoint {path}: unreadable or corrupted ({type(exc).__name__}: {exc})") from exc

    if not isinstance(payload, dict) or payload.get("format") != FORMAT_NAME:
        raise CheckpointError(f"checkpoint {path}: not an alphago_lite checkpoint")
    if payload.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {path}: format version {payload.get('format_version')!r} is not supported"
            f" (this code reads version {FORMAT_VERSION})")
    missing = [k for k in _REQUIRED_KEYS if k not in payload]
    if missing:
        raise CheckpointError(f"checkpoint {path}: missing keys {missing}")
    check_arch(path, payload["arch"])

    meta = CheckpointMeta(
        path=str(path),
        format_version=int(payload["format_version"]),
        arch=dict(payload["arch"]),
        feature_set=str(payload["feature_set"]),
        board_size=int(payload["board_size"]),
        step=int(payload["step"]),
        optimizer_state=payload.get("optimizer_state"),
        extra=dict(payload.get("extra") or {}),
    )
    if expect_board_size is not None and meta.board_size != int(expect_board_size):
        raise CheckpointError(
            f"checkpoint {path}: trained for board size {meta.board_size}, expected {expect_board_size}")
    if expect_feature_set is not None and meta.feature_set != expect_feature_set:
        raise CheckpointError(
            f"checkpoint {path}: trained with feature set {meta.feature_set!r}, expected {expect_feature_set!r}")
    return payload["model_state"], meta


def check_arch(path: str | os.PathLike, arch: object) -> None:
    """CheckpointError naming the field when ``arch`` is not a dict or a field is outside ``ARCH_BOUNDS``."""
    if not isinstance(arch, dict):
        raise CheckpointError(f"checkpoint {path}: arch is a {type(arch).__name__}, not a dict")
    for name, (low, high) in ARCH_BOUNDS.items():
        if name not in arch:
            continue  # a missing required field is reported when the net is built
        value = arch[name]
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise CheckpointError(f"checkpoint {path}: arch.{name} = {reprlib.repr(value)} is outside "
                                  f"{low}..{high}")


def load_model(
    path: str | os.PathLike,
    expect_board_size: int | None = None,
    expect_feature_set: str | None = None,
    device: str | torch.device = "cpu",
) -> tuple[PolicyValueNet, CheckpointMeta]:
    """Rebuild the net stored in ``path`` in eval mode on ``device``; returns ``(model, meta)``."""
    state, meta = load_checkpoint(path, expect_board_size=expect_board_size, expect_feature_set=expect_feature_set)
    try:
        model = PolicyValueNet.from_arch(meta.arch)
        model.load_state_dict(state)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"checkpoint {path}: weights do not fit the stored architecture ({exc})") from exc
    return model.to(device).eval(), meta
