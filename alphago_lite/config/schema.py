"""Every configuration section of alphago_lite as a frozen dataclass, with its defaults and rules.

Vocabulary
----------
section   one dataclass below (GameConfig, SearchConfig, ...); a field of the top-level Config.
key       the dotted path of one setting, e.g. ``search.num_simulations``.
default   the value a field has when neither a YAML file nor an override sets it. Each component
          owns its defaults here; YAML experiment files hold only what differs.
resolved  a few fields use ``None`` for "derive from other settings" (``game.max_moves``,
          ``search.dirichlet_alpha``, ``search.temperature_moves``); the ``resolved_*`` functions at
          the bottom compute the value actually used.

Each field carries its documentation in ``metadata["doc"]`` (``config.describe_config`` prints it)
and optional numeric bounds ``ge`` / ``gt`` / ``le`` / ``lt`` in the same metadata.

Construction validates, so a bad section built directly in Python fails like a bad YAML file:
1. types are checked against the annotations: a bool is not an int, a string is not a number,
   an integral float becomes an int (``1e4`` -> 10000), an int becomes a float, a list becomes a tuple;
2. the numeric bounds are checked;
3. ``_check_relations`` checks rules that involve several fields of one section; ``Config`` checks
   the rules that span sections.
Any violation raises ``ConfigError`` (a ``ValueError``) naming the key and the bad value.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

from alphago_lite.errors import UserError
from alphago_lite.net.precision import Precision  # one list of names: the config checks against it

CONFIG_VERSION = 1
"""Schema version written into every saved config; bump it when a key changes meaning."""

SuperkoRule = Literal["positional", "situational", "simple"]
FeatureSet = Literal["agz", "rich"]
Device = Literal["auto", "cpu", "cuda"]
Optimizer = Literal["sgd", "adamw"]
LrSchedule = Literal["constant", "cosine", "step"]
InferenceBackend = Literal["torch", "openvino"]
SearchAlgorithm = Literal["puct", "gumbel"]

MAX_BOARD_SIZE = 25  # GTP's column letters (A..Z without I) name at most 25 columns


class ConfigError(UserError):
    """A configuration key, value or file is wrong. ``key`` is the dotted key when there is one."""

    def __init__(self, problem: str, key: str | None = None, value: Any = None):
        self.problem, self.key, self.value = problem, key, value
        if key is None:
            super().__init__(problem)
        else:
            super().__init__(f"config key {key!r}: {problem} (got {value!r})")

    def within(self, section: str) -> ConfigError:
        """The same error with its key prefixed by the section that contains it."""
        key = section if self.key is None else f"{section}.{self.key}"
        return ConfigError(self.problem, key, self.value)


def option(default: Any, doc: str, **bounds: float) -> Any:
    """A field with a default, its documentation and optional bounds (ge, gt, le, lt)."""
    unknown = set(bounds) - {"ge", "gt", "le", "lt"}
    assert not unknown, f"unknown bound names {unknown}"
    return field(default=default, metadata={"doc": doc, **bounds})


def section(cls: type, doc: str) -> Any:
    """A field holding a whole nested section, defaulting to that section's defaults."""
    return field(default_factory=cls, metadata={"doc": doc})


# --------------------------------------------------------------------------------------------
# Type checking and bounds (shared by all sections)
# --------------------------------------------------------------------------------------------

def type_name(hint: Any) -> str:
    """A short human name for an annotation: 'int', 'int | None', 'sgd|adamw', 'tuple[int, ...]'."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Literal:
        return "|".join(str(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " | ".join("None" if a is type(None) else type_name(a) for a in args)
    if origin is tuple:
        return f"tuple[{type_name(args[0])}, ...]"
    return getattr(hint, "__name__", str(hint))


def _coerce(hint: Any, value: Any, key: str) -> Any:
    """Return ``value`` converted to the annotated type, or raise ConfigError."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _coerce(inner, value, key)
    if origin is Literal:
        if isinstance(value, str) and value in args:
            return value
        raise ConfigError(f"must be one of {', '.join(map(repr, args))}", key, value)
    if origin is tuple and isinstance(value, (list, tuple)):
        return tuple(_coerce(args[0], item, f"{key}[{i}]") for i, item in enumerate(value))
    is_bool = isinstance(value, bool)
    if hint is bool and is_bool:
        return value
    if hint is int and not is_bool:
        if isinstance(value, numbers.Integral):
            return int(value)
        if isinstance(value, numbers.Real) and float(value).is_integer():
            return int(value)
        if isinstance(value, numbers.Real):
            raise ConfigError("expected an integer", key, value)
    if hint is float and not is_bool and isinstance(value, numbers.Real):
        if not math.isfinite(value):
            raise ConfigError("must be a finite number", key, value)
        return float(value)
    if hint is str and isinstance(value, str):
        return value
    if dataclasses.is_dataclass(hint) and isinstance(value, hint):
        return value
    raise ConfigError(f"expected {type_name(hint)}, got {type(value).__name__}", key, value)


_BOUND_TESTS = {
    "ge": (lambda v, b: v >= b, ">="),
    "gt": (lambda v, b: v > b, ">"),
    "le": (lambda v, b: v <= b, "<="),
    "lt": (lambda v, b: v < b, "<"),
}


def _check_bounds(f: dataclasses.Field, value: Any) -> None:
    if value is None or not isinstance(value, numbers.Real):
        return
    for name, (test, symbol) in _BOUND_TESTS.items():
        if name in f.metadata and not test(value, f.metadata[name]):  # NaN fails every test
            raise ConfigError(f"must be {symbol} {f.metadata[name]}", f.name, value)


def bounds_text(f: dataclasses.Field) -> str:
    """The bounds of a field as text, e.g. '>= 2, <= 25' ('' when unbounded)."""
    return ", ".join(f"{sym} {f.metadata[n]}" for n, (_, sym) in _BOUND_TESTS.items() if n in f.metadata)


@functools.cache
def field_types(cls: type) -> dict[str, Any]:
    """The resolved annotations of a section class (they are strings under postponed evaluation)."""
    return typing.get_type_hints(cls)


class _Section:
    """Base of every section: validates and normalises all fields on construction."""

    def __post_init__(self) -> None:
        hints = field_types(type(self))
        for f in dataclasses.fields(self):
            value = _coerce(hints[f.name], getattr(self, f.name), f.name)
            _check_bounds(f, value)
            object.__setattr__(self, f.name, value)  # frozen: normalised values go in this way
        self._check_relations()

    def _check_relations(self) -> None:
        """Rules involving several fields; sections override this."""


# --------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class GameConfig(_Section):
    """Rules of the game being learned."""

    size: int = option(9, "Board size (lines per side).", ge=2, le=MAX_BOARD_SIZE)
    komi: float = option(7.5, "Points added to White's area score; a multiple of 0.5.")
    superko: SuperkoRule = option(
        "positional", "Repetition rule: positional (no whole-board repeat), situational "
        "(no repeat with the same player to move) or simple (only single-stone ko).")
    suicide: bool = option(False, "Allow multi-stone suicide (a move that leaves its own chain without liberties).")
    max_moves: int | None = option(
        None, "Moves after which a game is stopped and scored; None means 2*size*size.", ge=1)

    def _check_relations(self) -> None:
        if not (self.komi * 2).is_integer() or abs(self.komi) > self.size * self.size:
            raise ConfigError(f"must be a multiple of 0.5 within +-{self.size * self.size}", "komi", self.komi)


@dataclass(frozen=True)
class ModelConfig(_Section):
    """Shape of the policy/value residual network."""

    # upper bounds: those a checkpoint may hold (net/checkpoint.py ARCH_BOUNDS), so a run never trains a
    # net that play would refuse to load
    blocks: int = option(6, "Residual blocks in the tower.", ge=1, le=64)
    channels: int = option(64, "Convolution channels in every block.", ge=1, le=1024)
    feature_set: FeatureSet = option(
        "agz", "Input planes: agz (AlphaGo Zero's 17: 8 past boards per colour + to-play) or rich "
        "(adds liberties, ko and similar engineered planes); see features.py.")
    global_pooling: bool = option(False, "Add KataGo-style global pooling layers to the tower.")
    ownership_head: bool = option(False, "Add an auxiliary head predicting final ownership of each point.")
    value_hidden: int = option(64, "Hidden units in the value head's fully connected layer.", ge=1, le=4096)


@dataclass(frozen=True)
class SearchConfig(_Section):
    """Monte-Carlo tree search (PUCT or Gumbel, with virtual loss) used by self-play and play."""

    algorithm: SearchAlgorithm = option(
        "puct", "puct (AlphaZero: visit counts choose the move and are the policy target) or gumbel "
        "(Gumbel AlphaZero: Sequential Halving at the root, the improved policy is the target).")
    gumbel_considered: int = option(
        16, "Gumbel: root moves considered by Sequential Halving (m; the top m by noise + logits).", ge=1)
    c_visit: float = option(50.0, "Gumbel: sigma(q) = (c_visit + max visits of a child) * c_scale * q.", ge=0)
    c_scale: float = option(1.0, "Gumbel: scale of the completed Q values in sigma(q) (see c_visit).", gt=0)
    num_simulations: int = option(200, "Simulations (leaf evaluations) per move of a full search.", ge=1)
    c_puct: float = option(1.25, "Exploration constant of the PUCT formula (c_init in AlphaZero).", gt=0)
    c_puct_base: float = option(19652.0, "Visit count scale of AlphaZero's log growth term.", gt=0)
    c_puct_log_growth: bool = option(
        True, "Grow c_puct by log((1 + N + c_puct_base) / c_puct_base) with the parent's visits N.")
    fpu_reduction: float = option(
        0.25, "First-play urgency: an unvisited child's Q is the parent's Q minus this.", ge=0)
    dirichlet_alpha: float | None = option(
        None, "Dirichlet noise concentration at the root; None means 0.03*361/size^2.", gt=0)
    noise_weight: float = option(0.25, "Fraction of the root prior replaced by Dirichlet noise (0 = none).",
                                 ge=0, le=1)
    virtual_loss: float = option(
        1.0, "Visits (each counted as a loss) added to every node on the path of a pending leaf, "
        "so that one round gathers different leaves.", ge=0)
    leaves_per_round: int = option(8, "Leaves gathered per game per batching round.", ge=1)
    temperature_moves: int | None = option(
        None, "Moves played by sampling visit counts (then greedy); None means size*size//8.", ge=0)
    temperature: float = option(1.0, "Sampling temperature for those first moves (0 = greedy).", ge=0)
    resign_threshold: float = option(
        -0.9, "Resign when the root value for the player to move falls below this (-1 = never).",
        ge=-1, le=1)
    resign_disabled_fraction: float = option(
        0.1, "Fraction of self-play games that never resign, to measure false resignations.", ge=0, le=1)
    reuse_tree: bool = option(True, "Keep the subtree of the played move for the next search.")
    threads: int = option(1, "Search threads per self-play worker (numba kernels release the GIL).", ge=1)
    pass_only_when_needed: bool = option(
        True, "Search does not consider passing while a legal move other than filling one's own "
        "single-point eye exists (weak nets otherwise pass early and learn from meaningless games).")


@dataclass(frozen=True)
class SelfPlayConfig(_Section):
    """Self-play (search) workers that generate training games."""

    num_workers: int = option(
        0, "Self-play workers; 0 means workers_per_cpu per CPU left after the learner and inference servers "
        "(at least one CPU's worth).", ge=0)
    games_per_worker: int = option(32, "Games each worker plays concurrently (their leaves share batches).",
                                   ge=1)
    workers_per_cpu: int = option(
        1, "Search workers (of one search thread) placed per CPU, each reserving 1/N of it. Above 1 where "
        "they mostly wait for the net, as with inference on the CPU: then num_workers 0 gives at least N.",
        ge=1, le=8)
    full_search_prob: float = option(
        1.0, "Playout cap randomisation: probability that a move gets a full search and is used for "
        "training; the other moves use cheap_simulations. 1.0 disables it.", gt=0, le=1)
    cheap_simulations: int = option(
        0, "Simulations of a cheap (not trained on) search; must be >= 1 when full_search_prob < 1.", ge=0)
    max_games: int | None = option(None, "Stop self-play after this many games in total; None = no limit.",
                                      ge=1)

    def _check_relations(self) -> None:
        if self.full_search_prob < 1.0 and self.cheap_simulations < 1:
            raise ConfigError("must be >= 1 when full_search_prob < 1", "cheap_simulations",
                              self.cheap_simulations)


@dataclass(frozen=True)
class InferenceConfig(_Section):
    """Inference servers that batch the network evaluations requested by all searches."""

    num_servers: int = option(0, "Inference servers; 0 means one per GPU, or 1 without a GPU.", ge=0)
    device: Device = option("auto", "Where the network runs: auto (cuda when available), cpu or cuda.")
    max_batch: int = option(1024, "Largest batch of positions evaluated at once.", ge=1)
    batch_timeout_ms: float = option(2.0, "Longest wait for a batch to fill before evaluating it.", ge=0)
    precision: Precision = option(
        "auto", "Number format of the forward: fp32, bf16 (outputs stay float32) or auto: bf16 on CUDA and on "
        "CPUs with AMX, fp32 on CPUs without bf16, and on CPUs with avx512_bf16 alone whichever a short "
        "timing of the net at start-up finds faster (on some such CPUs bf16 is slower). bf16 asked for on a CPU "
        "without bf16 instructions runs emulated in torch (several times slower; a warning says so) and as fp32 "
        "in OpenVINO (its evaluator then reports fp32, with a warning).")
    backend: InferenceBackend = option(
        "torch", "Runtime of the forward: torch, or openvino (CPU only; needs the optional openvino package: "
        "pip install 'alphago-lite[openvino]'). OpenVINO recompiles the net at every weight swap beside "
        "the running forwards.")
    bf16: bool = option(True, "Legacy switch from before inference.precision: false turns precision auto into fp32.")
    cuda_graphs: bool = option(True, "Capture CUDA graphs per batch size on GPU (ignored on CPU).")
    cpu_threads: int = option(
        0, "Threads of a CPU server's forward. N: N threads on N reserved CPUs. 0 (auto): the largest node's "
        "CPUs shared among the servers, on one reserved CPU: the threads share cores with the search workers "
        "and the learner, which on CPU mostly wait for the net.", ge=0)

    def _check_relations(self) -> None:
        if self.backend == "openvino" and self.device == "cuda":
            raise ConfigError("openvino runs on the CPU: use device cpu or auto with it", "backend", self.backend)
        if self.precision == "bf16" and not self.bf16:
            raise ConfigError("contradicts the legacy bf16: false; remove bf16", "precision", self.precision)

    def requested_precision(self) -> str:
        """``precision``, with the legacy ``bf16: false`` of old configs turning auto into fp32."""
        return "fp32" if self.precision == "auto" and not self.bf16 else self.precision


@dataclass(frozen=True)
class ReplayConfig(_Section):
    """The replay buffer: finished games on disk and the window of recent games sampled for training."""

    window_min_games: int = option(100, "Smallest sampling window, in games.", ge=1)
    window_max_games: int = option(20000, "Largest sampling window, in games.", ge=1)
    window_growth: float = option(
        0.5, "Window = min(window_max_games, window_min_games + window_growth * games_seen).", ge=0)
    shard_games: int = option(64, "Games per msgpack shard file under run_dir/games/.", ge=1)
    symmetries: bool = option(True, "Train on a random one of the 8 board symmetries of each position.")

    def _check_relations(self) -> None:
        if self.window_max_games < self.window_min_games:
            raise ConfigError(f"must be >= window_min_games ({self.window_min_games})", "window_max_games",
                              self.window_max_games)


@dataclass(frozen=True)
class LearnerConfig(_Section):
    """Training of the network from replayed self-play positions."""

    batch_size: int = option(256, "Positions per training step.", ge=1)
    optimizer: Optimizer = option("sgd", "sgd (with momentum) or adamw.")
    lr: float = option(0.02, "Peak learning rate.", gt=0)
    momentum: float = option(0.9, "SGD momentum (adamw: beta1).", ge=0, lt=1)
    weight_decay: float = option(1e-4, "L2 weight decay (decoupled for adamw).", ge=0)
    lr_schedule: LrSchedule = option(
        "constant", "constant; cosine (decays to 0 at total_steps); step (times lr_decay at each milestone).")
    lr_milestones: tuple[int, ...] = option((), "Steps at which the step schedule multiplies lr by lr_decay.")
    lr_decay: float = option(0.1, "Factor applied to lr at each milestone of the step schedule.", gt=0, le=1)
    total_steps: int = option(10000, "Training steps of the run.", ge=1)
    max_minutes: float | None = option(
        None, "Wall-clock budget in minutes, counted from the start of the actors (their start-up "
        "included): the run stops cleanly, with a checkpoint and without waiting for an evaluation match "
        "in flight, once it is spent, even before total_steps (None = no budget). For equal-time "
        "comparisons of configs; a resumed run gets the budget afresh.", gt=0)
    max_samples_per_position: float | None = option(
        4.0, "Throttle: the learner waits for self-play while (positions trained on, counting repeats) "
        "exceeds this many times the self-play positions generated; None = never wait.", gt=0)
    min_positions: int = option(1000, "Positions in the replay buffer before training starts.", ge=1)
    publish_every: int = option(50, "Steps between publishing new weights to the inference servers.", ge=1)
    checkpoint_every: int = option(200, "Steps between checkpoints in run_dir/checkpoints/.", ge=1)
    keep_checkpoints: int = option(5, "Most recent checkpoints kept on disk.", ge=1)
    mixed_precision: bool = option(
        True, "Train with bf16 autocast where it pays: on GPU, and on CPUs that inference.precision auto "
        "gives bf16 (AMX, or avx512_bf16 when a short timing of a training step finds it faster).")
    value_loss_weight: float = option(1.0, "Weight of the value loss relative to the policy loss.", ge=0)
    cpu_threads: int = option(
        1, "Torch threads of the learner's process when it trains on the CPU; 0 leaves torch's setting alone "
        "(its default: the machine's cores). "
        "1 because self-play has the other cores: torch's threads wait for each other at every op, and a "
        "thread whose core another process holds stalls them all (measured on 2 cores while self-play ran: "
        "a 4x32 7x7 step of 64 positions took 19 ms with 1 thread, 1.4 s with 2).", ge=0)

    def _check_relations(self) -> None:
        milestones = self.lr_milestones
        if any(m < 1 for m in milestones) or list(milestones) != sorted(set(milestones)):
            raise ConfigError("must be positive and strictly increasing", "lr_milestones", list(milestones))
        if self.lr_schedule == "step" and not milestones:
            raise ConfigError("lr_schedule 'step' needs at least one lr_milestones entry", "lr_milestones",
                              list(milestones))


_RAY_ADDRESS = re.compile(r"^(auto|(ray://)?[\w.\-]+:\d+)$")


@dataclass(frozen=True)
class ClusterConfig(_Section):
    """Where the Ray cluster comes from (the core library never imports Ray; the driver reads this)."""

    address: str | None = option(
        None, "None starts a local cluster; 'auto' joins the cluster on this machine; "
        "'ray://host:port' or 'host:port' joins a remote one.")
    num_cpus: int | None = option(None, "CPUs of a local cluster; None = all.", ge=1)
    num_gpus: int | None = option(None, "GPUs of a local cluster; None = all.", ge=0)

    def _check_relations(self) -> None:
        if self.address is not None and not _RAY_ADDRESS.match(self.address):
            raise ConfigError("must be 'auto', 'ray://host:port' or 'host:port'", "address", self.address)


@dataclass(frozen=True)
class EvaluationConfig(_Section):
    """Matches between the newest network and earlier ones."""

    gating: bool = option(False, "Publish a new network to self-play only if it beats the current one.")
    gating_threshold: float = option(0.55, "Win rate the new network needs to pass the gate.", gt=0, lt=1)
    gating_games: int = option(40, "Games of a gating match.", ge=1)
    eval_every: int = option(500, "Learner steps between evaluation matches; 0 = never.", ge=0)
    eval_games: int = option(20, "Games of an evaluation match.", ge=1)
    eval_simulations: int = option(50, "Simulations per move in evaluation and gating games.", ge=1)


@dataclass(frozen=True)
class Config(_Section):
    """A whole experiment: run directory, seed, and one field per section."""

    version: int = option(CONFIG_VERSION, "Config schema version (written into the run directory).")
    run_dir: str = option("runs/default", "Directory for the resolved config, checkpoints, games and metrics.")
    seed: int = option(0, "Seed for every random generator of the run.", ge=0, lt=2**32)
    game: GameConfig = section(GameConfig, "Rules of the game.")
    model: ModelConfig = section(ModelConfig, "Network shape.")
    search: SearchConfig = section(SearchConfig, "Tree search.")
    selfplay: SelfPlayConfig = section(SelfPlayConfig, "Self-play workers.")
    inference: InferenceConfig = section(InferenceConfig, "Inference servers.")
    replay: ReplayConfig = section(ReplayConfig, "Replay buffer.")
    learner: LearnerConfig = section(LearnerConfig, "Training.")
    cluster: ClusterConfig = section(ClusterConfig, "Ray cluster.")
    evaluation: EvaluationConfig = section(EvaluationConfig, "Evaluation and gating matches.")

    def _check_relations(self) -> None:
        if self.version != CONFIG_VERSION:
            raise ConfigError(f"unsupported config version; this code reads version {CONFIG_VERSION}",
                              "version", self.version)
        if not self.run_dir.strip():
            raise ConfigError("must not be empty", "run_dir", self.run_dir)
        if self.selfplay.full_search_prob < 1.0 and self.selfplay.cheap_simulations >= self.search.num_simulations:
            raise ConfigError(f"must be < search.num_simulations ({self.search.num_simulations})",
                              "selfplay.cheap_simulations", self.selfplay.cheap_simulations)
        if self.evaluation.gating and self.evaluation.eval_every == 0:
            raise ConfigError("must be > 0 when evaluation.gating is on", "evaluation.eval_every", 0)


# --------------------------------------------------------------------------------------------
# Values derived from None defaults
# --------------------------------------------------------------------------------------------

def resolved_max_moves(game: GameConfig) -> int:
    """Moves after which a game stops: game.max_moves, or 2*size*size when it is None."""
    return game.max_moves if game.max_moves is not None else 2 * game.size * game.size


def resolved_dirichlet_alpha(search: SearchConfig, size: int) -> float:
    """Root noise alpha: search.dirichlet_alpha, or 0.03*361/size^2 (0.03 on 19x19) when None."""
    if search.dirichlet_alpha is not None:
        return search.dirichlet_alpha
    return 0.03 * 361 / (size * size)


def resolved_temperature_moves(search: SearchConfig, size: int) -> int:
    """Moves sampled with temperature: search.temperature_moves, or size*size//8 when None."""
    return search.temperature_moves if search.temperature_moves is not None else size * size // 8

