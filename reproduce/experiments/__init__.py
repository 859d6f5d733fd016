"""Experiments, by the name the CLI and notebooks use."""
from __future__ import annotations

from importlib import import_module

from ..errors import UserError

REGISTRY = {"mnist": "reproduce.experiments.mnist", "omitted-digit": "reproduce.experiments.omitted_digit",
            "temperature-sweep": "reproduce.experiments.temperature_sweep",
            "speech": "reproduce.experiments.speech", "specialists": "reproduce.experiments.specialists"}


def get(name: str):
    if name not in REGISTRY:
        raise UserError(f"unknown experiment {name!r}; allowed: {', '.join(REGISTRY)}")
    return import_module(REGISTRY[name])
