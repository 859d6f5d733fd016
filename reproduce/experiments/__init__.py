"""Experiments, by the name the CLI and notebooks use."""
from __future__ import annotations

from importlib import import_module

from ..catalog import EXPERIMENTS, experiment_module
from ..errors import UserError

REGISTRY = {name: experiment_module(name) for name in EXPERIMENTS}  # name -> module, from the one list


def get(name: str):
    if name not in REGISTRY:
        raise UserError(f"unknown experiment {name!r}; allowed: {', '.join(REGISTRY)}")
    return import_module(REGISTRY[name])
