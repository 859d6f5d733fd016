"""The suite's experiments, each named once: the CLI's choices, the profiles, the experiment and report modules, the
notebooks and the scorecard are all derived from this list (nothing else may spell it out)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Chapter:
    name: str      # the experiment's name: `reproduce run NAME`, results/<profile>/NAME.json
    notebook: str  # notebooks/<notebook>.ipynb, the chapter's page

    @property
    def key(self) -> str:
        """The Python spelling: reproduce/experiments/<key>.py, reproduce/reports/<key>.py, profiles.<KEY>."""
        return self.name.replace("-", "_")


CHAPTERS = (Chapter("mnist", "01_mnist"), Chapter("omitted-digit", "02_omitted_digit"),
            Chapter("temperature-sweep", "03_temperature"), Chapter("speech", "04_speech"),
            Chapter("specialists", "05_specialists"))
EXPERIMENTS = tuple(c.name for c in CHAPTERS)
PAGES = ("98_performance", "99_scorecard")  # notebooks that run no experiment: they read the recorded ones
BY_NAME = {c.name: c for c in CHAPTERS}


def experiment_module(name: str) -> str:
    return f"reproduce.experiments.{BY_NAME[name].key}"


def report_module(name: str) -> str:
    return f"reproduce.reports.{BY_NAME[name].key}"
