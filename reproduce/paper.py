"""Every number the paper reports (Hinton, Vinyals & Dean 2015, arXiv 1503.02531).

Used only to compare against; results never copy from here. Section numbers follow the paper.
Each entry is a PaperNumber so the scorecard can show what it is, its unit, and whether lower is better.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PaperNumber:
    key: str
    value: float
    unit: str  # "errors" (of 10,000 test cases), "%", "count", "shift", "T"
    section: str
    what: str
    lower_is_better: bool = True


_N = PaperNumber
NUMBERS: dict[str, PaperNumber] = {n.key: n for n in [
    # Section 3: MNIST (test errors of 10,000)
    _N("mnist.teacher_errors", 67, "errors", "3", "teacher 784-1200-1200-10, dropout + max-norm + 2 px jitter"),
    _N("mnist.small_errors", 146, "errors", "3", "small 784-800-800-10, no regularization"),
    _N("mnist.distilled_errors", 74, "errors", "3", "small 800-800 net distilled at T = 20"),
    _N("mnist.distill_temperature", 20, "T", "3", "temperature used for the distilled net", lower_is_better=False),
    _N("omitted3.errors_before", 206, "errors", "3", "distilled with no 3s in the transfer set"),
    _N("omitted3.errors_on_3_before", 133, "errors", "3", "errors on the 1010 test 3s, before the bias shift"),
    _N("omitted3.bias_shift", 3.5, "shift", "3", "test-optimal raise of the class-3 bias", lower_is_better=False),
    _N("omitted3.errors_after", 109, "errors", "3", "after the bias shift"),
    _N("omitted3.errors_on_3_after", 14, "errors", "3", "errors on test 3s after the shift"),
    _N("omitted3.pct_3_correct_after", 98.6, "%", "3", "test 3s correct after the shift", lower_is_better=False),
    _N("only78.error_pct_before", 47.3, "%", "3", "test error, transfer set of only 7s and 8s"),
    _N("only78.bias_shift", -7.6, "shift", "3", "shift of the biases of 7 and 8", lower_is_better=False),
    _N("only78.error_pct_after", 13.2, "%", "3", "test error after the shift"),
    # Section 4: speech (Table 1)
    _N("speech.baseline_frame_acc", 58.9, "%", "4", "baseline test frame accuracy", lower_is_better=False),
    _N("speech.baseline_wer", 10.9, "%", "4", "baseline WER"),
    _N("speech.ensemble_frame_acc", 61.1, "%", "4", "10x ensemble test frame accuracy", lower_is_better=False),
    _N("speech.ensemble_wer", 10.7, "%", "4", "10x ensemble WER"),
    _N("speech.distilled_frame_acc", 60.8, "%", "4", "distilled single model frame accuracy", lower_is_better=False),
    _N("speech.distilled_wer", 10.7, "%", "4", "distilled single model WER"),
    _N("speech.gain_transferred_pct", 80, "%", "4", "share of the ensemble gain kept (more than)", lower_is_better=False),
    # Section 5: specialists (Table 3)
    _N("jft.baseline_conditional_acc", 43.1, "%", "5", "baseline conditional test accuracy", lower_is_better=False),
    _N("jft.baseline_top1", 25.0, "%", "5", "baseline top-1 test accuracy", lower_is_better=False),
    _N("jft.specialists_conditional_acc", 45.9, "%", "5", "+61 specialists, conditional accuracy", lower_is_better=False),
    _N("jft.specialists_top1", 26.1, "%", "5", "+61 specialists, top-1", lower_is_better=False),
    _N("jft.relative_top1_gain_pct", 4.4, "%", "5", "relative top-1 improvement", lower_is_better=False),
    _N("jft.n_specialists", 61, "count", "5", "number of specialists", lower_is_better=False),
    # Section 6: soft targets as regularizers (Table 5)
    _N("reg.full_train_acc", 63.4, "%", "6", "baseline on 100% of data, train frame accuracy", lower_is_better=False),
    _N("reg.full_test_acc", 58.9, "%", "6", "baseline on 100% of data, test frame accuracy", lower_is_better=False),
    _N("reg.hard3_train_acc", 67.3, "%", "6", "baseline on 3%, train frame accuracy", lower_is_better=False),
    _N("reg.hard3_test_acc", 44.5, "%", "6", "baseline on 3%, test frame accuracy (early stopped)", lower_is_better=False),
    _N("reg.soft3_train_acc", 65.4, "%", "6", "soft targets on 3%, train frame accuracy", lower_is_better=False),
    _N("reg.soft3_test_acc", 57.0, "%", "6", "soft targets on 3%, test frame accuracy", lower_is_better=False),
]}
# Derived from Table 5 (not printed in the paper): the share of the gap between the 3% hard-target model and the
# full-data model that soft targets on 3% close, (57.0 - 44.5) / (58.9 - 44.5).
NUMBERS["reg.gap_recovered_pct"] = _N(
    "reg.gap_recovered_pct", round(100 * (NUMBERS["reg.soft3_test_acc"].value - NUMBERS["reg.hard3_test_acc"].value)
                                   / (NUMBERS["reg.full_test_acc"].value - NUMBERS["reg.hard3_test_acc"].value), 1),
    "%", "6", "share of the 3%-to-100% test accuracy gap closed by soft targets (derived)", lower_is_better=False)
DERIVED = {"reg.gap_recovered_pct"}  # computed above from printed numbers; not printed in the paper itself

SPEECH_CORPUS_HOURS = 2000  # section 4: hours of Android voice search the paper's frame classifier trained on
SPEECH_FRAMES = 700e6       # section 4: "about 700M training frames"
SPEECH_PARAMETERS = 85e6    # section 4: 8 x 2560 ReLU with 14,000 outputs, "about 85M parameters"

# Table 4 of section 5: (specialists covering the correct class, test examples, change in top-1 correct, relative %)
JFT_COVERAGE_TABLE = [
    ("0", 350037, 0, 0.0), ("1", 141993, 1421, 3.4), ("2", 67161, 1572, 7.4), ("3", 38801, 1124, 8.8),
    ("4", 26298, 835, 10.5), ("5", 16474, 561, 11.1), ("6", 10682, 362, 11.3), ("7", 7376, 232, 12.8),
    ("8", 4703, 182, 13.6), ("9", 4706, 208, 16.6), ("10 or more", 9082, 324, 14.1),
]

# Public reproductions of the MNIST numbers (teacher, small, distilled test errors; None = not reported).
PUBLIC_REPRODUCTIONS = [
    ("full 3000-epoch dropout recipe", 101, 196, 134),
    ("1000-epoch reproduction", 64, None, 67),
    ("30-epoch reproduction", 118, 156, 135),
    ("25-epoch reproduction", 143, 188, 158),
]


def paper(key: str) -> float:
    """The paper's value for `key`; a KeyError names the known keys."""
    try:
        return NUMBERS[key].value
    except KeyError:
        raise KeyError(f"unknown paper number {key!r}; known: {', '.join(sorted(NUMBERS))}") from None
