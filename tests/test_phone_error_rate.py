"""The phone decoder (issue 27 part 4): edit distance, segmentation, and Viterbi with the phone bigram."""
import numpy as np
import torch

from reproduce import phone_error_rate as P


def _levenshtein(a, b):
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
    return d[-1][-1]


def test_edit_distance_matches_the_textbook_recurrence():
    rng = np.random.default_rng(0)
    for _ in range(200):
        a, b = rng.integers(0, 4, rng.integers(0, 9)), rng.integers(0, 4, rng.integers(0, 9))
        assert P.edit_distance(a, b) == _levenshtein(list(a), list(b))
    assert P.edit_distance([1, 2, 3], [1, 3]) == 1 and P.edit_distance([], [4, 4]) == 2


def test_a_segment_starts_where_the_phone_changes_or_the_state_goes_back():
    #   phone: 0 0 0 1 1 1 0 0 0 0   state: 0 1 2 0 1 2 0 0 2 0
    labels = np.array([0, 1, 2, 3, 4, 5, 0, 0, 2, 0])
    assert P.segments(labels).tolist() == [0, 1, 0, 0]


def _corpus(rng, n_utts=60, phones=5):
    """Utterances of silence (phone 0), a word of phones following a fixed cycle 1 -> 2 -> 3 -> 4 -> 1, silence."""
    labels, utt = [], []
    for u in range(n_utts):
        seq = [0, 1 + int(rng.integers(4))]
        for _ in range(int(rng.integers(3, 7))):
            seq.append(1 + seq[-1] % 4)
        seq.append(0)
        for p in seq:
            for s in range(P.STATES):
                labels += [p * P.STATES + s] * int(rng.integers(1, 4))
        utt += [u] * (len(labels) - len(utt))
    return np.array(labels), np.array(utt), phones * P.STATES


def _posteriors(labels, n_labels, rng, noise):
    logits = rng.normal(0, noise, (len(labels), n_labels))
    logits[np.arange(len(labels)), labels] += 3.0
    return torch.log_softmax(torch.as_tensor(logits, dtype=torch.float32), -1)


def test_clean_posteriors_decode_to_the_reference():
    rng = np.random.default_rng(1)
    labels, utt, n = _corpus(rng)
    pm = P.fit(labels, utt, n, silence=0)
    assert P.error_rate(_posteriors(labels, n, rng, 0.1), labels, utt, pm, 1.0, 1.0) == 0.0


def test_the_bigram_corrects_what_framewise_argmax_gets_wrong():
    rng = np.random.default_rng(2)
    train, utt_train, n = _corpus(rng)
    pm = P.fit(train, utt_train, n, silence=0)
    test, utt_test, _ = _corpus(rng, 40)
    post = _posteriors(test, n, rng, 1.6)
    frame_wise = sum(P.edit_distance(P._phones(post[s].argmax(-1).numpy(), 0), P._phones(test[s], 0))
                     for s in P.utterances(utt_test)) / sum(len(P._phones(test[s], 0)) for s in P.utterances(utt_test))
    decoded = P.error_rate(post, test, utt_test, pm, 2.0, 1.0)
    assert frame_wise > 0.5 and decoded < 0.2 * 100 * frame_wise, (frame_wise, decoded)
    # batching utterances together changes nothing
    assert P.error_rate(post, test, utt_test, pm, 2.0, 1.0, batch_frames=30) == decoded


def test_scales_are_chosen_as_the_grid_minimum():
    rng = np.random.default_rng(3)
    labels, utt, n = _corpus(rng, 20)
    pm = P.fit(labels, utt, n, silence=0)
    out = P.choose_scales(_posteriors(labels, n, rng, 1.5), labels, utt, pm)
    assert out["val_per"] == min(g["val_per"] for g in out["grid"])
    assert len(out["grid"]) == len(P.LM_WEIGHTS) * len(P.PRIOR_SCALES)
