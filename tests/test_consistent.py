"""The consistent-teacher variant (reproduce/train/consistent.py): the soft targets of a step are the teacher's
logits on the exact jittered view the student sees, member by member."""
import pytest
import torch

from reproduce.errors import UserError
from reproduce.train import BatchedMLP, DeviceImages, TrainConfig, member_generators
from reproduce.train.consistent import ConsistentTeacherTrainer

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def data():
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(300, 28, 28, generator=g) * 255).to(torch.uint8)
    return DeviceImages(x, torch.randint(0, 10, (300,), generator=g), CPU)


def recipe(**kw):
    return TrainConfig(**dict(dict(sizes=(784, 32, 10), epochs=2, batch_size=50, lr=0.05, jitter=2, temperature=4.0,
                                   hard_weight=0.1), **kw))


def test_soft_targets_are_the_teachers_logits_on_the_students_own_view(data):
    teacher = BatchedMLP((784, 40, 10), member_generators([7, 8], CPU), CPU)
    t = ConsistentTeacherTrainer(recipe(), [1, 2, 3], data, teacher=teacher, progress=False)
    t.perm[:] = torch.stack([torch.randperm(data.n, generator=g) for g in member_generators([1, 2, 3], CPU)])
    t._draw()
    x, _, idx = t._batch()
    assert not torch.equal(x, data.crop(idx))  # the views are jittered
    got = t.teacher_logits_on(x)
    for e in range(3):  # student member e learns from teacher member e mod 2
        want = teacher(x[e].unsqueeze(0).expand(2, -1, -1))[e % 2]
        torch.testing.assert_close(got[e], want)
    assert not torch.allclose(got[0], teacher(data.crop(idx)[0].unsqueeze(0).expand(2, -1, -1))[0])


def test_it_trains_and_keys_its_checkpoint_by_the_teacher(data):
    t1 = BatchedMLP((784, 40, 10), member_generators([7], CPU), CPU)
    t2 = BatchedMLP((784, 40, 10), member_generators([9], CPU), CPU)
    a = ConsistentTeacherTrainer(recipe(), [1], data, data, teacher=t1, progress=False)
    b = ConsistentTeacherTrainer(recipe(), [1], data, data, teacher=t2, progress=False)
    assert a.fingerprint != b.fingerprint and not a.manual_backward
    res = a.run()
    losses = [res.history[k]["loss"][0] for k in sorted(res.history)]
    assert len(losses) == 2 and all(torch.isfinite(torch.tensor(losses)))


def test_the_variant_is_refused_without_jitter_or_with_dropout(data):
    teacher = BatchedMLP((784, 40, 10), member_generators([7], CPU), CPU)
    with pytest.raises(UserError, match="jitter"):
        ConsistentTeacherTrainer(recipe(jitter=0), [1], data, teacher=teacher, progress=False)
    with pytest.raises(UserError, match="dropout"):
        ConsistentTeacherTrainer(recipe(input_dropout=0.2), [1], data, teacher=teacher, progress=False)
