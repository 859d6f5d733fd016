"""The CNN trainer of the specialists chapter: half-and-half sampling, a member's run depends on its own seed and
subset alone, an interrupted run resumes to the same weights, and early stopping returns each member's best."""
import numpy as np
import pytest
import torch

from reproduce.train.cnn_trainer import CNNTrainer, SubsetSampler
from reproduce.train import TrainConfig
from reproduce.datasets.image_sets import FixedImages, ImagePool

CPU = torch.device("cpu")
ARCH = {"channels": [4], "hidden": 16}


def _pool(n=240, classes=6, augment="glyph"):
    rng = np.random.default_rng(0)
    labels = np.arange(n) % classes
    x = (rng.random((n, 1, 16, 16)) < 0.15 + 0.1 * (labels[:, None, None, None] % 3)).astype(np.uint8) * 255
    x[np.arange(n), 0, labels, labels] = 255  # a class-specific pixel: learnable
    return ImagePool(x, labels, CPU, augment), FixedImages(x[:60], labels[:60], CPU)


def test_half_of_each_batch_comes_from_the_subset():
    labels = torch.arange(300) % 10
    s = SubsetSampler(labels, [[1, 2], [0, 5, 6, 7, 8, 9]], 10)
    assert s.fraction == pytest.approx([0.2, 0.6])
    g = torch.Generator().manual_seed(0)
    idx = s.draw(0, g, 64)
    assert set(labels[idx[:32]].tolist()) <= {1, 2} and not set(labels[idx[32:]].tolist()) & {1, 2}
    idx = s.draw(1, g, 64)
    assert set(labels[idx[:32]].tolist()) <= {0, 5, 6, 7, 8, 9}


def _cfg(**kw):
    return TrainConfig(**dict(dict(sizes=(), epochs=2, batch_size=16, lr=0.05, momentum=0.9), **kw))


def test_a_members_run_depends_on_its_seed_and_subset_alone():
    pool, _ = _pool()
    subsets = [[0, 1], [2, 3, 4]]
    lmap = torch.tensor([[0, 1, 2, 2, 2, 2], [3, 3, 0, 1, 2, 3]])

    def train(members):
        s = SubsetSampler(pool.labels, [subsets[m] for m in members], 6)
        return CNNTrainer(_cfg(), [7 + m for m in members], pool, ARCH, 4, sampler=s, label_map=lmap[members],
                          progress=False).run().model
    both, second = train([0, 1]), train([1])
    for a, b in zip(both.parameters(), second.parameters()):
        assert torch.allclose(a.view(2, -1)[1], b.view(1, -1)[0], atol=1e-6)


def test_an_interrupted_run_resumes_to_the_same_weights(tmp_path):
    pool, test = _pool()
    full = CNNTrainer(_cfg(epochs=3), [1], pool, ARCH, 6, test=test, progress=False).run()
    ck = tmp_path / "run.pt"
    CNNTrainer(_cfg(epochs=3), [1], pool, ARCH, 6, test=test, progress=False, checkpoint=ck).run(stop_after_epoch=1)
    resumed = CNNTrainer(_cfg(epochs=3), [1], pool, ARCH, 6, test=test, progress=False, checkpoint=ck).run()
    assert resumed.resumed_from_epoch == 1
    for a, b in zip(full.model.parameters(), resumed.model.parameters()):
        assert torch.equal(a, b)
    assert full.history[3]["loss"] < full.history[1]["loss"]  # and it learns


def test_early_stopping_returns_each_members_best_weights():
    pool, val = _pool()
    idx = torch.as_tensor(np.stack([np.arange(60), np.arange(60)[::-1].copy()]))
    trainer = CNNTrainer(_cfg(epochs=4, lr=0.3), [3, 4], pool, ARCH, 6, progress=False,
                         early_stop=(val, idx, val.labels[idx]))
    res = trainer.run()
    curve = np.array([res.history[e]["val_loss"] for e in sorted(res.history)])  # (epochs, members)
    assert np.allclose(trainer.validation_loss().numpy(), curve.min(0), atol=1e-5)


def test_the_cnn_recipes_refuse_mlp_regularizers():
    from reproduce.errors import UserError
    pool, _ = _pool()
    with pytest.raises(UserError, match="no dropout, jitter or max-norm"):
        CNNTrainer(_cfg(input_dropout=0.2), [1], pool, ARCH, 6, progress=False)


def test_a_transfer_set_student_learns_its_table_not_the_labels():
    """The distilled-back net (cnn_transfer.py): member 0 learns a table that names class (y + 1) mod 6, member 1 the
    labels themselves, with no weight on the hard term; each follows its own table, on the fixed draws it was given."""
    from reproduce.train.cnn_transfer import TransferCNNTrainer
    from reproduce.datasets.image_sets import as_fixed, fixed_draws
    pool, _ = _pool()
    draws = fixed_draws(pool, 2, seed=5)
    assert draws.n == 2 * pool.n and draws.augment == "none"
    assert torch.equal(draws.labels[:4], pool.labels[torch.tensor([0, 0, 1, 1])])
    assert torch.equal(fixed_draws(pool, 2, seed=5).images, draws.images)  # made once, from the seed
    assert not torch.equal(draws.images[0], draws.images[1])  # two different augmented draws of image 0
    transfer = fixed_draws(_pool(augment="none")[0], 2, seed=5)  # unaugmented: an easy task, learnt in a few epochs
    y = transfer.labels
    eye = torch.eye(6)
    table = torch.stack([torch.log(0.94 * eye[(y + 1) % 6] + 0.01), torch.log(0.94 * eye[y] + 0.01)])
    cfg = _cfg(epochs=12, lr=0.1, temperature=1.0, hard_weight=0.0)
    trainer = TransferCNNTrainer(cfg, [1, 1], transfer, ARCH, 6, teacher_logits=table, progress=False)
    pred = trainer.run().model.predict(as_fixed(transfer)).argmax(-1)
    assert float((pred[0] == (y + 1) % 6).float().mean()) > 0.8
    assert float((pred[1] == y).float().mean()) > 0.8
    other = TransferCNNTrainer(cfg, [1, 1], transfer, ARCH, 6, teacher_logits=table.flip(0), progress=False)
    assert other.fingerprint != trainer.fingerprint  # the table keys the checkpoint
