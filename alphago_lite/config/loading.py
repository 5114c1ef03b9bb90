"""Loading, overriding, saving and describing experiment configurations.

The sections themselves (frozen dataclasses with defaults, docs and validation) live in
``schema``; the package re-exports both, so callers import only ``alphago_lite.config``.

Vocabulary
----------
YAML file   an experiment file (``configs/*.yaml``) holding only the keys that differ from the
            defaults, as nested mappings (``search: {num_simulations: 400}``).
override    a command-line string ``dotted.key=value`` applied after the file; the value is parsed
            as a YAML scalar or flow list: ``400``, ``0.5``, ``1e-4``, ``true``, ``null``,
            ``[100, 200]``, ``cuda``.
resolved    the complete Config after defaults, file and overrides; ``save_config`` writes it to
            ``run_dir/config.yaml`` and ``load_config`` on that file (or the run dir) gives it back.

YAML is read with YAML 1.2 scalar rules, which are less surprising for configs than PyYAML's 1.1
defaults: only true/false are booleans (``no`` and ``off`` stay strings) and ``1e-4`` is a float.
Duplicate keys in a file are an error instead of silently keeping the last.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from alphago_lite.config.schema import Config, ConfigError, bounds_text, field_types, type_name
from alphago_lite.run_dir import CONFIG_FILE

CONFIG_FILENAME = CONFIG_FILE
"""Name of the resolved config inside a run directory (``run_dir`` owns the layout)."""

_OVERRIDE_KEY = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


# --------------------------------------------------------------------------------------------
# YAML with YAML 1.2 scalars and duplicate-key detection
# --------------------------------------------------------------------------------------------

class _ConfigLoader(yaml.SafeLoader):
    """SafeLoader where only true/false are bools, 1e-4 is a float, and duplicate keys fail."""


_BOOL_TAG, _FLOAT_TAG = "tag:yaml.org,2002:bool", "tag:yaml.org,2002:float"
_ConfigLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_ConfigLoader.add_implicit_resolver(_BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                    list("tTfF"))
_ConfigLoader.add_implicit_resolver(  # exponent without a dot, which YAML 1.1 reads as a string
    _FLOAT_TAG, re.compile(r"^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+$"), list("-+.0123456789"))


def _construct_unique_mapping(loader: _ConfigLoader, node: yaml.MappingNode) -> dict:
    loader.flatten_mapping(node)
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise ConfigError(f"duplicate key {key!r} at line {key_node.start_mark.line + 1}")
        seen.add(key)
    return loader.construct_mapping(node, deep=True)


_ConfigLoader.add_constructor("tag:yaml.org,2002:map", _construct_unique_mapping)


def _parse_yaml(text: str, where: str) -> Any:
    try:
        return yaml.load(text, Loader=_ConfigLoader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: invalid YAML{_yaml_problem(exc)}") from None


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """PyYAML's explanation in one line (its message spans several), with the line and column."""
    problem = getattr(exc, "problem", None)
    mark = getattr(exc, "problem_mark", None)
    if problem is None or mark is None:
        return ": " + " ".join(str(exc).split())
    return f" at line {mark.line + 1}, column {mark.column + 1}: {problem}"


# --------------------------------------------------------------------------------------------
# Building a Config from nested mappings
# --------------------------------------------------------------------------------------------

def _unknown_key_problem(key: Any, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(str(key), known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown key; {hint}known keys here: {', '.join(known)}"


def _build(cls: type, data: Mapping, prefix: str) -> Any:
    """Construct section ``cls`` from a mapping holding a subset of its keys (dotted-key errors)."""
    hints = field_types(cls)
    known = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if key not in hints:
            raise ConfigError(_unknown_key_problem(key, known), dotted, value)
        if dataclasses.is_dataclass(hints[key]):
            if value is None:  # a section header with every key commented out
                value = {}
            if not isinstance(value, Mapping):
                raise ConfigError("is a section; expected a mapping of its keys", dotted, value)
            value = _build(hints[key], value, dotted + ".")
        kwargs[key] = value
    try:
        return cls(**kwargs)
    except ConfigError as exc:
        raise (exc.within(prefix[:-1]) if prefix else exc) from None


def parse_override(item: str) -> tuple[str, Any]:
    """Split ``'search.num_simulations=400'`` into ``('search.num_simulations', 400)``."""
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not _OVERRIDE_KEY.match(key):
        raise ConfigError(f"bad override {item!r}: expected dotted.key=value, e.g. search.num_simulations=400")
    if not text.strip():
        raise ConfigError(f"bad override {item!r}: empty value (write null for None, '' for an empty string)")
    return key, _parse_yaml(text, f"override {item!r}")


def _set_dotted(tree: dict, key: str, value: Any) -> None:
    parts = key.split(".")
    node = tree
    for depth, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        elif not isinstance(child, dict):
            raise ConfigError("is not a section; cannot set keys inside it", ".".join(parts[: depth + 1]), child)
        node = child
    node[parts[-1]] = value


def _apply(tree: dict, overrides: Sequence[str]) -> Config:
    if isinstance(overrides, str):  # a lone string would be split into characters
        raise TypeError("overrides must be a sequence of 'key=value' strings, not one string")
    for item in overrides:
        _set_dotted(tree, *parse_override(item))
    return _build(Config, tree, "")


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------

def load_config(path: str | None = None, overrides: Sequence[str] = ()) -> Config:
    """Defaults, updated by the YAML file at ``path`` (if any), then by dotted ``overrides``.

    ``path`` may also be a run directory, meaning its saved ``config.yaml``.
    Raises ConfigError (a ValueError) naming the dotted key for unknown keys, wrong types and
    impossible values, invalid YAML and a directory that holds no config.yaml; FileNotFoundError when
    the file is missing.
    """
    tree: Any = {}
    if path is not None:
        if os.path.isdir(path):
            if not os.path.isfile(os.path.join(path, CONFIG_FILENAME)):
                raise ConfigError(f"{path} is a directory, not a config file (nor a run directory: "
                                  f"no {CONFIG_FILENAME} in it)")
            path = os.path.join(path, CONFIG_FILENAME)
        with open(path, encoding="utf-8") as f:
            try:
                text = f.read()
            except UnicodeDecodeError:
                raise ConfigError(f"{path}: not a YAML config (not UTF-8 text)") from None
        tree = _parse_yaml(text, path)
        if tree is None:  # an empty file or only comments: all defaults
            tree = {}
        if not isinstance(tree, dict):
            raise ConfigError(f"{path}: expected a mapping of config keys at the top level, "
                              f"got {type(tree).__name__}")
    return _apply(tree, overrides)


def apply_overrides(cfg: Config, overrides: Sequence[str]) -> Config:
    """A copy of ``cfg`` with dotted ``overrides`` applied (e.g. when resuming a run)."""
    return _apply(config_to_dict(cfg), overrides)


def config_to_dict(cfg: Any) -> dict:
    """The config (or one section) as nested plain dicts, lists and scalars, in field order."""
    out = {}
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            value = config_to_dict(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out


def save_config(cfg: Config, run_dir: str | None = None) -> str:
    """Write the resolved config to ``run_dir/config.yaml`` atomically; return the file's path.

    ``run_dir`` defaults to ``cfg.run_dir``. Loading the file gives back a Config equal to ``cfg``.
    """
    run_dir = cfg.run_dir if run_dir is None else run_dir
    os.makedirs(run_dir, exist_ok=True)
    path = os.path.join(run_dir, CONFIG_FILENAME)
    header = (f"# Resolved configuration of this run (schema version {cfg.version}), written by "
              f"alphago_lite.\n# Every key is listed; alphago_lite.config.describe_config() documents them.\n")
    body = yaml.safe_dump(config_to_dict(cfg), sort_keys=False, default_flow_style=False)
    fd, tmp = tempfile.mkstemp(dir=run_dir, prefix=".config-", suffix=".yaml.tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(header + body)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)  # readers see the old file or the new one, never half of one
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def _yaml_text(value: Any) -> str:
    """A default as one would write it in a YAML file."""
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    return str(list(value) if isinstance(value, tuple) else value)


def describe_config(cls: type = Config, prefix: str = "") -> str:
    """Every key with its type, default, bounds and doc, one block per section (for --help)."""
    lines = []
    hints = field_types(cls)
    for f in dataclasses.fields(cls):
        key = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(hints[f.name]):
            lines.append(f"\n[{key}] {hints[f.name].__doc__.strip()}")
            lines.append(describe_config(hints[f.name], key + "."))
            continue
        shown = _yaml_text(f.default)
        bounds = bounds_text(f)
        lines.append(f"{key}: {type_name(hints[f.name])} = {shown}" + (f"  ({bounds})" if bounds else ""))
        lines.append(f"    {f.metadata['doc']}")
    return "\n".join(lines).lstrip("\n")
