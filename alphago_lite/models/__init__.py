"""Nets shipped with the package: ``<name>.pt`` (a checkpoint) beside ``<name>.json`` (its model card).

A model card says what the net is and how strong it measured, so that a claim can be checked:

    card_version      CARD_VERSION (cards of another version are refused, naming the file)
    board_size        the size the net plays (must agree with the checkpoint)
    komi              the komi it was trained with (play and gtp use it by default)
    config            the config file it was trained from, e.g. configs/go7.yaml
    learner_steps, games, positions            how much training it had
    wall_clock_hours, cpu_hours, machine       what that cost, and on what
    commit            the commit of the code that trained it
    search            (optional) the training run's search algorithm settings (algorithm,
                      gumbel_considered, c_visit, c_scale): play, gtp and match search with them
    strength          a list of measurements: opponent, games, score, ci95 [low, high], visits and the
                      exact ``alphago-lite match ...`` command that measured it

The folder is this package's directory; ``ALPHAGO_LITE_MODELS_DIR`` (or the ``folder`` argument) points
elsewhere, for tests and for nets not yet committed. Only a card with its checkpoint beside it counts.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from alphago_lite.errors import UserError

CARD_VERSION = 1
MODELS_DIR_ENV = "ALPHAGO_LITE_MODELS_DIR"
SHIPPED = "shipped"  # the player / model name that means "the shipped net"
_REQUIRED = {"card_version": int, "board_size": int, "komi": float, "config": str, "learner_steps": int,
             "games": int, "positions": int, "wall_clock_hours": float, "cpu_hours": float, "machine": str,
             "commit": str, "strength": list}
_STRENGTH_REQUIRED = {"opponent": str, "games": int, "score": float, "ci95": list, "visits": int, "command": str}


class ModelCardError(UserError):
    """A model card that is unreadable, of another version, or missing a field."""


class ShippedModelNotFound(UserError):
    """No shipped net of the name or board size asked for."""


@dataclass(frozen=True)
class Strength:
    """One measured match: the net's score against ``opponent`` with its 95% interval."""
    opponent: str
    games: int
    score: float
    ci95: tuple[float, float]
    visits: int
    command: str

    def describe(self) -> str:
        low, high = self.ci95
        return (f"{self.score:.0%} vs {self.opponent} over {self.games} games (95% CI {low:.0%}..{high:.0%}, "
                f"{self.visits} visits)")


@dataclass(frozen=True)
class ModelCard:
    name: str
    checkpoint: Path
    board_size: int
    komi: float
    config: str
    learner_steps: int
    games: int
    positions: int
    wall_clock_hours: float
    cpu_hours: float
    machine: str
    commit: str
    strength: tuple[Strength, ...] = field(default_factory=tuple)
    search: dict | None = None

    def describe(self) -> str:
        size = f"{self.board_size}x{self.board_size}"
        head = (f"{self.name}: {size}, komi {self.komi:g}, {self.learner_steps} learner steps, {self.games} games, "
                f"{self.cpu_hours:g} CPU-hours ({self.wall_clock_hours:g} h on {self.machine}), commit "
                f"{self.commit[:10]}, from {self.config}")
        return "\n".join([head] + [f"  {s.describe()}\n    {s.command}" for s in self.strength])


def models_dir(folder: str | os.PathLike | None = None) -> Path:
    """The folder of shipped nets: ``folder``, else $ALPHAGO_LITE_MODELS_DIR, else this package's."""
    if folder is not None:
        return Path(folder)
    return Path(os.environ.get(MODELS_DIR_ENV) or Path(__file__).parent)


def _field(path: Path, data: dict, name: str, kind: type, where: str = ""):
    if name not in data:
        raise ModelCardError(f"model card {path}: no field {where}{name!r}")
    value = data[name]
    # JSON writes 7.0 as 7.0 but 7.5 komi may be written 7; ints are fine where floats are asked for
    ok = isinstance(value, kind) or (kind is float and isinstance(value, int))
    if not ok or isinstance(value, bool):
        raise ModelCardError(f"model card {path}: field {where}{name!r} = {value!r} is not a {kind.__name__}")
    return float(value) if kind is float else value


def _strength(path: Path, index: int, item: object) -> Strength:
    where = f"strength[{index}]."
    if not isinstance(item, dict):
        raise ModelCardError(f"model card {path}: {where[:-1]} is not an object")
    values = {name: _field(path, item, name, kind, where) for name, kind in _STRENGTH_REQUIRED.items()}
    ci95 = values.pop("ci95")
    if len(ci95) != 2 or not all(isinstance(x, (int, float)) for x in ci95):
        raise ModelCardError(f"model card {path}: field {where}'ci95' = {ci95!r} is not [low, high]")
    return Strength(ci95=(float(ci95[0]), float(ci95[1])), **values)


def read_card(path: str | os.PathLike) -> ModelCard:
    """The model card in ``path`` (``<name>.json``; its checkpoint is ``<name>.pt`` beside it)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ModelCardError(f"model card {path}: unreadable ({err})") from None
    if not isinstance(data, dict):
        raise ModelCardError(f"model card {path}: not a JSON object")
    values = {name: _field(path, data, name, kind) for name, kind in _REQUIRED.items()}
    if values.pop("card_version") != CARD_VERSION:
        raise ModelCardError(f"model card {path}: card_version {data['card_version']!r} is not supported "
                             f"(this code reads version {CARD_VERSION})")
    strength = tuple(_strength(path, i, item) for i, item in enumerate(values.pop("strength")))
    search = data.get("search")
    if search is not None and not isinstance(search, dict):
        raise ModelCardError(f"model card {path}: field 'search' = {search!r} is not an object")
    return ModelCard(name=path.stem, checkpoint=path.with_suffix(".pt"), strength=strength, search=search, **values)


def shipped_models(folder: str | os.PathLike | None = None) -> list[ModelCard]:
    """Every shipped net (a card with its checkpoint beside it), by board size then name."""
    root = models_dir(folder)
    cards = [read_card(p) for p in sorted(root.glob("*.json")) if p.with_suffix(".pt").is_file()]
    return sorted(cards, key=lambda card: (card.board_size, card.name))


def shipped_model(name: str | None = None, board_size: int | None = None,
                  folder: str | os.PathLike | None = None) -> ModelCard:
    """The shipped net called ``name``, or the one for ``board_size`` (the first by name when there are
    several). Raises ShippedModelNotFound saying what is shipped."""
    models = shipped_models(folder)
    found = [m for m in models if (name is None or m.name == name)
             and (board_size is None or m.board_size == board_size)]
    if found:
        return found[0]
    wanted = f"named {name!r}" if name is not None else f"for {board_size}x{board_size}"
    have = ", ".join(f"{m.name} ({m.board_size}x{m.board_size})" for m in models) or "none yet"
    raise ShippedModelNotFound(f"no shipped net {wanted} (shipped: {have}; see `alphago-lite models`)")


def shipped_for_size(board_size: int, folder: str | os.PathLike | None = None) -> ModelCard | None:
    """The shipped net for ``board_size``, or None when there is none."""
    try:
        return shipped_model(board_size=board_size, folder=folder)
    except ShippedModelNotFound:
        return None


def is_shipped_spec(spec: str) -> bool:
    """True for ``shipped`` and ``shipped:NAME``."""
    return spec == SHIPPED or spec.startswith(SHIPPED + ":")


def resolve_shipped(spec: str, board_size: int | None = None,
                    folder: str | os.PathLike | None = None) -> ModelCard:
    """The net ``shipped`` (the one for ``board_size``) or ``shipped:NAME`` names."""
    _, colon, name = spec.partition(":")
    if colon and not name:
        raise ShippedModelNotFound("give the shipped net's name after 'shipped:' (e.g. shipped:go7)")
    if not name and board_size is None:
        raise ShippedModelNotFound("'shipped' needs a board size (or name the net: shipped:NAME)")
    return shipped_model(name=name or None, board_size=None if name else board_size, folder=folder)


def card_beside(checkpoint: str | os.PathLike) -> ModelCard | None:
    """The model card of a checkpoint (``NAME.json`` beside ``NAME.pt``), None when there is none."""
    path = Path(checkpoint).with_suffix(".json")
    return read_card(path) if path.is_file() else None
