"""Read collector settings from the environment (Cloud Run, Cloud Functions and Dataflow configure processes that
way) into typed values, failing at start-up with the variable's name when a value cannot be used."""

from __future__ import annotations

from collections.abc import Mapping

from datahem.runtime.collectors.errors import CollectorConfigError


def env_str(env: Mapping[str, str], name: str, default: str | None = None) -> str | None:
    value = env.get(name, "").strip()
    return value or default


def env_required(env: Mapping[str, str], name: str, why: str) -> str:
    value = env_str(env, name)
    if value is None:
        raise CollectorConfigError(f"environment variable {name} is not set; {why}")
    return value


def env_float(env: Mapping[str, str], name: str, default: float, minimum: float = 0.0) -> float:
    raw = env_str(env, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise CollectorConfigError(f"environment variable {name}={raw!r} is not a number") from None
    if not value >= minimum:
        raise CollectorConfigError(f"environment variable {name}={raw!r} must be at least {minimum}")
    return value


def env_int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env_str(env, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise CollectorConfigError(f"environment variable {name}={raw!r} is not an integer") from None
    if value < minimum:
        raise CollectorConfigError(f"environment variable {name}={raw!r} must be at least {minimum}")
    return value
