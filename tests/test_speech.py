"""The speech-style corpus: labels cover every frame, phone boundaries match espeak's events, features have the
paper's shapes, generation is deterministic for a seed, and a missing library is one clear error."""
import numpy as np
import pytest
import torch

from reproduce.errors import UserError
from reproduce.train.data import DeviceFrames
from reproduce.datasets.speech import corpus as C
from reproduce.datasets.speech import features as F
from reproduce.datasets.speech.espeak import shared

TINY = dict(seed=7, language="en-us", train_speakers=3, test_speakers=2, utterances_per_speaker=4, test_utterances=2,
            words=[3, 6], snr_db=[5, 20], rate=[140, 200], pitch=[30, 70], val_fraction=0.25,
            test_variant_fraction=0.2)


@pytest.fixture(scope="module")
def synth():
    return shared()


@pytest.fixture(scope="module")
def tiny():
    return C.generate(TINY, workers=1, progress=False)


def test_mel_filterbank_covers_the_band_with_unit_peaks():
    fb = F.mel_filterbank(16000, n_fft=512, n_mels=40)
    assert fb.shape == (40, 257)
    assert (fb.max(1) > 0.5).all() and (fb.max(1) <= 1).all()  # every triangle is seen by at least one bin
    centres = fb.argmax(1)
    assert np.all(np.diff(centres) > 0)  # ordered low to high
    assert (fb.sum(0)[10:-1] > 0).all()  # no gap in the band


def test_frames_are_25ms_every_10ms():
    sr = 22050
    starts = F.frame_starts(sr, sr)  # one second
    assert len(starts) == 98 and starts[1] - starts[0] in (220, 221) and starts[-1] == round(97 * 220.5)
    x = np.sin(2 * np.pi * 1000 * np.arange(sr) / sr).astype(np.float32)
    fe = F.log_mel(x, sr)
    assert fe.shape == (98, 40) and fe.dtype == np.float32
    peak_band = np.argmax(fe.mean(0))
    fb = F.mel_filterbank(sr)
    assert abs(np.argmax(fb[peak_band]) * sr / F.N_FFT - 1000) < 150  # the 1 kHz tone lands in the right band


def test_labels_cover_every_frame_and_change_only_at_phoneme_events(synth):
    u = synth.say("seven red apples on the table", "en-us+m3", 170, 50)
    seg, state = F.frame_labels(u.phones, u.end, len(u.wav), synth.sample_rate)
    bounds, names = F.segments(u.phones, u.end, len(u.wav))
    n_frames = len(F.frame_starts(len(u.wav), synth.sample_rate))
    assert len(seg) == len(state) == n_frames and (seg >= 0).all() and (state >= 0).all() and (state < 3).all()
    centres = F.frame_starts(len(u.wav), synth.sample_rate) + int(round(F.WINDOW_S * synth.sample_rate)) // 2
    events = np.array([s for s, _ in u.phones] + [u.end])
    hop = F.HOP_S * synth.sample_rate
    for k in np.nonzero(np.diff(seg))[0]:  # every change of phone lies on an espeak event within one frame
        between = events[(events > centres[k]) & (events <= centres[k + 1])]
        assert len(between) >= 1 and centres[k + 1] - between[0] < hop + 1
    spoken = {F.phone_name(p) for _, p in u.phones} - {F.SILENCE}
    assert spoken <= set(names) and len(spoken) >= 10
    # sub-states run begin -> middle -> end inside a phone
    for s in np.unique(seg):
        st = state[seg == s]
        assert (np.diff(st) >= 0).all()


def test_corpus_shapes_splits_and_speakers(tiny):
    card = C.card(tiny)
    assert set(card["voices"]["train"]).isdisjoint(card["voices"]["test"])
    assert card["speakers"] == {"train": 3, "test": 2}
    n = len(tiny["labels"])
    assert tiny["centres"].shape == (n,) and tiny["feats"].shape[1] == 40 and tiny["feats"].dtype == np.float16
    assert sum(card["frames"].values()) == n and card["labels"] == len(tiny["phones"]) * 3
    train = C.split_indices(tiny, "train")
    x = tiny["feats"][tiny["centres"][train]].astype(np.float64)
    assert abs(x.mean()) < 0.05 and abs(x.std() - 1) < 0.05  # normalized by training statistics
    d = DeviceFrames(tiny["feats"], tiny["centres"], tiny["labels"], torch.device("cpu"))
    batch = d.crop(torch.tensor([[0, 5], [7, 9]]))
    assert batch.shape == (2, 2, 26 * 40)
    # the label's frame is the 21st of the 26 in the window
    c = int(tiny["centres"][5])
    assert torch.equal(batch[0, 1].view(26, 40)[20], torch.as_tensor(tiny["feats"][c]).float())
    # the first frame of an utterance sees copies of itself as its past, never the previous utterance
    assert torch.equal(batch[0, 0].view(26, 40)[0], batch[0, 0].view(26, 40)[20])


def test_generation_is_deterministic_and_parallel_equals_serial(tiny):
    again = C.generate(TINY, workers=2, progress=False)
    for key in ("feats", "labels", "centres", "utt_split"):
        assert np.array_equal(tiny[key], again[key]), key
    other = C.generate(dict(TINY, seed=8), workers=1, progress=False)
    assert not np.array_equal(tiny["labels"][:500], other["labels"][:500])


def test_three_percent_is_whole_utterances(tiny):
    train = C.split_indices(tiny, "train")
    part = C.utterance_subset(tiny, train, 0.3, 1)
    utts = np.unique(tiny["frame_utt"][part])
    assert 0 < len(part) < len(train)
    assert np.isin(train[np.isin(tiny["frame_utt"][train], utts)], part).all()  # every frame of a chosen utterance


def test_cache_is_verified_and_regenerated_when_corrupt(tmp_path):
    cfg = dict(TINY, train_speakers=2, test_speakers=1, utterances_per_speaker=2, test_utterances=1)
    a = C.load(cfg, root=tmp_path, progress=False, log=lambda *a: None)
    path = C.cache_path(cfg, tmp_path)
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    path.write_bytes(bytes(blob))
    said = []
    b = C.load(cfg, root=tmp_path, progress=False, log=said.append)
    assert "fails its checksum" in said[0] and np.array_equal(a["labels"], b["labels"])


def test_missing_library_is_one_clear_error(monkeypatch):
    from reproduce.datasets.speech import espeak
    monkeypatch.setenv("REPRODUCE_ESPEAK_LIBRARY", "/nonexistent/libespeak-ng.so")
    with pytest.raises(UserError, match="pip install espeakng-loader"):
        espeak.Synthesizer()


def test_bad_corpus_config_names_the_key():
    with pytest.raises(UserError, match="snr_db"):
        C.check_config(dict(TINY, snr_db=[20, 5]))
    with pytest.raises(UserError, match="unknown keys \\['speakers'\\]"):
        C.check_config(dict(TINY, speakers=3))
    assert C.check_config(dict(TINY)) == TINY


@pytest.mark.parametrize("key, value", [
    ("words", [3]), ("words", [0, 3]), ("words", [2.5, 4]), ("snr_db", "abc"), ("rate", None), ("pitch", [1, True]),
    ("val_fraction", "x"), ("val_fraction", 1.0), ("test_variant_fraction", 0), ("seed", 1.5), ("language", ""),
    ("train_speakers", True), ("test_utterances", 0),
])
def test_every_corpus_value_is_checked_before_use(key, value):
    with pytest.raises(UserError, match=f"^corpus.{key}="):
        C.check_config(dict(TINY, **{key: value}))


def test_ensemble_soft_targets_are_the_members_averaged_probabilities():
    from reproduce.train import BatchedMLP, member_generators
    from reproduce.experiments.speech import ensemble_eval, soft_target_logits
    rng = np.random.default_rng(0)
    rows = rng.standard_normal((60, 4)).astype(np.float16)
    d = DeviceFrames(rows, np.arange(20, 50), rng.integers(0, 5, 30), torch.device("cpu"), past=3, future=1)
    model = BatchedMLP((20, 8, 5), member_generators([1, 2, 3], torch.device("cpu")), torch.device("cpu"))
    with torch.no_grad():
        z = model(d.crop(torch.arange(30)).unsqueeze(0).expand(3, -1, -1))  # (3, 30, 5)
    for i, t in enumerate((1.0, 2.0, 5.0)):
        logits = soft_target_logits(model, d, [1.0, 2.0, 5.0], chunk=7)[i]
        want = torch.softmax(z / t, -1).mean(0)
        assert torch.allclose(torch.softmax(logits / t, -1), want, atol=1e-6)
    members, ens = ensemble_eval(model, d, chunk=11)
    y = d.labels
    assert np.allclose(members, (100 * (z.argmax(-1) == y).float().mean(-1)).tolist())
    assert abs(ens - 100 * float((z.softmax(-1).mean(0).argmax(-1) == y).float().mean())) < 1e-4


def test_explorations_table_picks_t_on_validation(tmp_path):
    """The recipe explorations' table takes each run's T by validation accuracy, never by test accuracy."""
    import json as _json

    from reproduce.reports import speech as report_speech
    out = {"members_test": 50.0, "ensemble_test": 60.0, "members_train_sample": 80.0,
           "distilled": {"2.0": {"test": 59.0, "val": 61.0}, "5.0": {"test": 52.0, "val": 70.0}},
           "kept_val": {"2.0": 10.0, "5.0": 90.0}, "kept_test": {"2.0": 90.0, "5.0": 20.0}}
    (tmp_path / "X.json").write_text(_json.dumps({"variant": "X", "command": "c", "results": out,
                                                  "provenance": {"commit": "abcdef0123"}}))
    row = report_speech.explorations_table(None, tmp_path).iloc[0]
    assert row["T"] == "5" and row["distilled (T by val.)"] == 52.0 and row["kept, test %"] == 20.0


def test_gain_kept_is_the_share_of_the_ensembles_gain():
    from reproduce.experiments.speech import gain_kept_pct
    assert gain_kept_pct(60.8, 58.9, 61.1) == pytest.approx(86.36, abs=0.01)  # the paper's Table 1
    assert np.isnan(gain_kept_pct(60.0, 58.0, 57.0))  # no gain to keep


def test_soft3_grid_table_chooses_on_validation(tmp_path):
    """Table 5's recipe exploration marks the cell of best validation accuracy, not the one of best test accuracy."""
    import json as _json

    from reproduce.reports import speech as report_speech
    cell = lambda t, a, va, te: {"temperature": t, "hard_weight": a, "train_acc": 70.0, "val_acc": va,  # noqa: E731
                                 "test_acc": te, "recovered_val_pct": 0.0, "recovered_test_pct": 0.0}
    grid = [cell(2.0, 0.5, 40.0, 45.0), cell(5.0, 0.0, 44.0, 41.0), cell(1.0, 0.0, 42.0, 43.0)]
    p = tmp_path / "grid.json"
    p.write_text(_json.dumps({"results": {"grid": grid, "best_by_val": 0}}))
    df = report_speech.soft3_grid_table(p)
    assert list(df["chosen on validation"]) == ["", "yes", ""]
    assert report_speech.soft3_grid_table(tmp_path / "missing.json") is None


def test_gap_closed_is_the_share_of_the_small_data_gap():
    from reproduce.experiments.speech import gap_closed_pct
    assert gap_closed_pct(57.0, 44.5, 58.9) == pytest.approx(86.81, abs=0.01)  # the paper's Table 5
    assert np.isnan(gap_closed_pct(50.0, 60.0, 58.9))  # no gap to close


def test_recorded_roles_carry_no_default_sizes():
    """The net is sized by `hidden` and the corpus; the recorded role configs must not show TrainConfig's default
    784-800-800-10 (they did, for a 1040-256-256-256-201 net), and asking for a role's sizes says what to set."""
    from reproduce.experiments import speech as S
    cfg = S.resolve_config("smoke")
    assert all("sizes" not in cfg[role] for role in S.ROLES)
    assert cfg["soft3"]["temperature"] == 20.0 and cfg["hidden"] == [128, 128]
    with pytest.raises(UserError, match="baseline.sizes .*hidden"):
        S.resolve_config("smoke", overrides=["baseline.sizes=[1040,64,201]"])


def test_corpus_card_record_is_checked_against_the_size_targets(tiny, tmp_path):
    from reproduce.reports import speech as report_speech
    from reproduce.results import read_record
    assert "not recorded yet" in report_speech.corpus_targets_text(None)
    from reproduce.cli import _record_corpus_card
    path = _record_corpus_card("paper", TINY, C.card(tiny), 12.0, tmp_path)
    rec = read_record("paper", "speech-corpus", tmp_path)
    assert path.exists() and rec["config"]["corpus"] == TINY and rec["provenance"]["wall_s"] == 12.0
    text = report_speech.corpus_targets_text(rec)
    assert "from 3 speakers" in text and "from 2 held-out test speakers" in text and "**not met**" in text
    c = rec["results"]["corpus"]
    c["hours"]["train"], c["speakers"] = 10.0, {"train": 50, "test": 10}  # exactly at the targets
    assert "**met**" in report_speech.corpus_targets_text(rec)


def test_paper_cpu_hours_scales_the_quick_run_by_frames_multiply_adds_epochs_and_members():
    from reproduce.profiles import get_profile
    from reproduce.reports import speech as report_speech
    quick_cfg = {"baseline": {"epochs": 4}, "ensemble": 2, "distill_seeds": 1, "temperatures": [1, 2]}
    quick = {"results": {"sizes": [10, 5, 2], "corpus": {"frames": {"train": 100}}}, "config": quick_cfg,
             "provenance": {"wall_s": 3600.0}}
    corpus = {"results": {"corpus": {"labels": 2, "frames": {"train": 300}}}}
    p = get_profile("speech", "paper")
    big = report_speech.macs_per_frame([10, *p["hidden"], 2])
    assert report_speech.macs_per_frame([10, 5, 2]) == 60
    members = p["ensemble"] + p["distill_seeds"] * len(p["temperatures"])
    assert report_speech.paper_cpu_hours(quick, corpus) == pytest.approx(
        3 * big / 60 * p["baseline"]["epochs"] / 4 * members / 4)
    assert report_speech.paper_cpu_hours(None, corpus) is None
    text = report_speech.verdict_text({"paper": None, "quick": None}, None, corpus)
    assert "hours on a CPU" in text


def test_paper_profile_is_in_the_papers_regime_of_frames_per_parameter():
    """Issue 27: at least the paper's frames per parameter (700M frames, 85M parameters: 8.2), on the recorded `paper`
    corpus; the 4 x 1024 net (0.8 per parameter) memorized its corpus."""
    from reproduce import paper
    from reproduce.profiles import SPEECH_GPU_OVERRIDES, apply_overrides, get_profile
    from reproduce.results import RESULTS_DIR
    import json
    corpus = json.loads((RESULTS_DIR / "paper" / "speech-corpus.json").read_text())["results"]["corpus"]
    params = lambda sizes: sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))  # noqa: E731
    p = get_profile("speech", "paper")
    assert corpus["frames"]["train"] / params([1040, *p["hidden"], corpus["labels"]]) >= paper.SPEECH_FRAMES / paper.SPEECH_PARAMETERS
    gpu = apply_overrides(get_profile("speech", "paper"), SPEECH_GPU_OVERRIDES)
    assert corpus["frames"]["train"] / params([1040, *gpu["hidden"], corpus["labels"]]) < 1
    assert gpu["hard3"]["epochs"] * gpu["fraction"] == pytest.approx(gpu["baseline"]["epochs"])
    assert p["hard3"]["epochs"] * p["fraction"] == pytest.approx(p["baseline"]["epochs"], rel=0.02)


def test_regime_table_shows_train_val_test_of_every_model_from_the_record():
    import json
    from reproduce.reports import speech as report_speech
    from reproduce.results import RESULTS_DIR
    rec = json.loads((RESULTS_DIR / "quick" / "speech.json").read_text())
    rows = report_speech.regime_rows(rec)
    b = rec["results"]["baseline"]
    assert rows["baseline (one model, mean of the members)"] == (b["train_acc"]["mean"], b["val_acc"]["mean"],
                                                                 b["test_acc"]["mean"])
    assert rows["ensemble of the members"][0] is None  # recorded before the ensemble's train accuracy was kept
    h = rec["results"]["hard3"]
    assert rows["3%, hard targets, final"][1] == pytest.approx(sum(c[-1] for c in h["curves"]["val"]) / len(h["seeds"]))
    table = report_speech.regime_table(rec, {"quick": rec, "paper": None})
    fpp = rec["results"]["corpus"]["frames"]["train"] / sum(a * b + b for a, b in zip(rec["results"]["sizes"][:-1],
                                                                                     rec["results"]["sizes"][1:]))
    assert table.iloc[-1, 1] == f"{fpp:.1f}" and table.iloc[0, 1] == f"{b['train_acc']['mean']:.1f} / " \
        f"{b['val_acc']['mean']:.1f} / {b['test_acc']['mean']:.1f}"


def test_real_speech_section_reads_its_record_or_says_how_to_make_it():
    import json
    from reproduce.reports import speech as report_speech
    from reproduce.results import RESULTS_DIR
    assert "scripts/run_speech_real.py" in report_speech.real_speech_text(None)
    rec = json.loads((RESULTS_DIR / "quick" / "speech.json").read_text())
    rec.update(overrides=["hidden=[40,40]"], command="python scripts/run_speech_real.py quick --set hidden=[40,40]")
    text = report_speech.real_speech_text(rec)
    assert "hidden=[40,40]" in text and f"{rec['results']['corpus']['utterances']['test']} test utterances" in text
    table = report_speech.real_speech_table(rec)
    c = report_speech.claims(rec)
    assert table.iloc[-3, 0] == f"{c['gain']:+.2f}" and table.iloc[-1, 0] == f"{c['closed']:.0f}%"


def test_phone_error_rate_table_and_claims_come_from_the_record():
    import json
    from reproduce.reports import speech as report_speech
    from reproduce.results import RESULTS_DIR, summarize
    rec = json.loads((RESULTS_DIR / "quick" / "speech.json").read_text())
    assert "predates" in report_speech.per_table(rec).iloc[0, 0] and "No phone error" in report_speech.per_text(rec)
    best = str(rec["results"]["distilled"]["best_t_by_val"])
    scales = {"lm_weight": 2.0, "prior_scale": 0.5}
    rec["results"]["phone_error_rate"] = {
        "baseline": {"test_per": summarize([30.0, 31.0, 32.0]), **scales},
        "ensemble": {"test_per": 27.0, **scales},
        "distilled": {t: {"test_per": summarize([29.0 if t == best else 35.0]), **scales}
                      for t in rec["results"]["distilled"]["by_temperature"]},
        "hard3": {"test_per": summarize([50.0]), **scales}, "soft3": {"test_per": summarize([40.0]), **scales}}
    c = report_speech.per_claims(rec)
    assert c["gain"] == pytest.approx(4.0) and c["kept"] == pytest.approx(50.0)  # (31 - 29) / (31 - 27)
    table = report_speech.per_table(rec)
    from reproduce.reports.common import fmt
    assert table.loc[f"distilled, T = {float(best):g} (chosen on validation)"].iloc[0] == fmt(summarize([29.0]), 2)
    assert table.iloc[1, 0] == "27.00" and table.iloc[0, 1] == "2 / 0.5"
    assert "keeps 50% of the ensemble's reduction" in report_speech.per_text(rec)
    assert report_speech.real_speech_table(rec).iloc[-1, 0] == "50%"


def test_shortfall_text_reads_the_longer_student_against_its_control(tmp_path):
    import json
    from reproduce.reports import speech as report_speech
    from reproduce.results import RESULTS_DIR
    rec = json.loads((RESULTS_DIR / "quick" / "speech.json").read_text())
    assert "not recorded yet" in report_speech.shortfall_text({"paper": None})
    (tmp_path / "paper").mkdir()
    (tmp_path / "quick").mkdir()
    p3 = {"variant": "P3", "provenance": {"commit": "0" * 40},
          "results": {"distilled": {"1.0": {"test": 67.0, "val": 68.0}, "2.0": {"test": 66.0, "val": 67.0}},
                      "kept_test": {"1.0": 70.0, "2.0": 60.0}, "kept_val": {"1.0": 80.0, "2.0": 70.0},
                      "control": {"epochs": 3, "test": 66.5, "val": 68.5}, "ensemble_val": 68.3,
                      "kept_vs_control_test": {"1.0": 25.0, "2.0": 10.0},
                      "kept_vs_control_val": {"1.0": float("nan"), "2.0": float("nan")}}}
    (tmp_path / "paper" / "P3.json").write_text(json.dumps(p3))
    text = report_speech.shortfall_text({"paper": rec, "quick": None}, tmp_path / "paper", tmp_path / "quick")
    assert f"keeps only {rec['results']['distilled']['gain_kept_pct']:.0f}% of the gain" in text
    assert "T = 1 chosen on validation" in text and "reaches 66.50% by itself" in text
    assert "keeps 25% of the gain on test" in text and "already beats" in text and "extra epochs, not" in text
    p3["results"]["kept_vs_control_test"]["1.0"] = 60.0
    (tmp_path / "paper" / "P3.json").write_text(json.dumps(p3))
    text = report_speech.shortfall_text({"paper": rec, "quick": None}, tmp_path / "paper", tmp_path / "quick")
    assert "not only the extra epochs" in text
