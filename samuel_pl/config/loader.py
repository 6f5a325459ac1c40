"""Load YAML configs and ``key=value`` overrides onto the typed schemas (OmegaConf.structured)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, TypeVar

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import (
    ConfigAttributeError,
    ConfigKeyError,
    ConfigTypeError,
    OmegaConfBaseException,
    ValidationError,
)

from samuel_pl.config.schema import FitConfig
from samuel_pl.config.validate import ConfigError, validate

T = TypeVar("T")


def _node_keys(schema: Any, dotted: str) -> tuple[str, list[str]]:
    """Return (parent path, valid keys at that level) for a dotted key within a dataclass schema."""
    parts = dotted.split(".")
    node: Any = schema
    parent: list[str] = []
    for part in parts[:-1]:
        if not dataclasses.is_dataclass(node):
            break
        names = {f.name: f for f in dataclasses.fields(node)}
        if part not in names:
            return ".".join(parent), sorted(names)
        node = getattr(node, part)
        parent.append(part)
    if dataclasses.is_dataclass(node):
        return ".".join(parent), sorted(f.name for f in dataclasses.fields(node))
    return ".".join(parent), []


def _field_type(schema: Any, dotted: str) -> str:
    """Declared type (as written in the schema) of a dotted key, e.g. ``int`` or ``list[str]``."""
    node: Any = schema
    for part in dotted.split("."):
        is_dc = dataclasses.is_dataclass(node)
        fields = {f.name: f for f in dataclasses.fields(node)} if is_dc else {}
        if part not in fields:
            return "a value of the schema's type"
        f = fields[part]
        node = getattr(node, part)
    return str(f.type)


def _unknown_key_message(schema: Any, full_key: str, source: str) -> str:
    parent, keys = _node_keys(schema, full_key)
    level = f"'{parent}'" if parent else "the top level"
    return f"{source}: unknown config key '{full_key}'; valid keys at {level}: {', '.join(keys)}"


def _translate(err: OmegaConfBaseException, schema: Any, source: str) -> ConfigError:
    full_key = str(getattr(err, "full_key", "") or "")
    if isinstance(err, ConfigKeyError | ConfigAttributeError) and full_key:
        return ConfigError(_unknown_key_message(schema, full_key, source))
    if isinstance(err, ValidationError | ConfigTypeError):
        value = getattr(err, "value", None)
        return ConfigError(
            f"{source}: wrong type for config key '{full_key}': got {value!r}, "
            f"expected {_field_type(schema, full_key)}"
        )
    return ConfigError(f"{source}: {str(err).splitlines()[0]}")


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML ({str(exc).splitlines()[0]})") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping, got {type(data).__name__}")
    return data


def load_config(
    path: str | Path | None = None,
    overrides: list[str] | None = None,
    schema: type[T] = FitConfig,  # type: ignore[assignment]
) -> T:
    """Merge ``path`` (YAML) and ``overrides`` (``a.b=value``) onto ``schema``; return the object
    once every choice and range is valid (:func:`samuel_pl.config.validate.validate`).

    Raises:
        ConfigError: unknown key (names it and the valid keys), wrong type, bad YAML or override,
            a value out of its range or choices (names key, value and the allowed values).
    """
    base = OmegaConf.structured(schema)
    instance = schema()
    merged: DictConfig = base
    if path is not None:
        p = Path(path)
        try:
            merged = OmegaConf.merge(merged, OmegaConf.create(_read_yaml(p)))  # type: ignore[assignment]
        except OmegaConfBaseException as exc:
            raise _translate(exc, instance, str(p)) from None
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"override '{item}' must look like key=value")
        key, _, raw = item.partition("=")
        key = key.strip().lstrip("+")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        try:
            # Walk the override as a dotlist so unknown keys are reported with their full path.
            OmegaConf.update(merged, key, value, merge=True, force_add=False)
        except OmegaConfBaseException as exc:
            raise _translate(exc, instance, "override") from None
    try:
        cfg: T = OmegaConf.to_object(merged)  # type: ignore[assignment]
    except OmegaConfBaseException as exc:
        raise _translate(exc, instance, str(path or "config")) from None
    validate(cfg)
    return cfg


def to_dict(cfg: Any) -> dict[str, Any]:
    """Plain nested dict of a config dataclass."""
    return dataclasses.asdict(cfg)


def to_yaml(cfg: Any) -> str:
    """YAML text of a config dataclass (what ``--print-config`` prints)."""
    return yaml.safe_dump(to_dict(cfg), sort_keys=False)


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten a nested dict into dotted keys (MLflow params)."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out
