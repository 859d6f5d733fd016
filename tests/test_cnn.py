"""The batched CNN (groundwork for the specialists chapter): member e of the grouped-convolution model computes
exactly what a plain nn.Sequential with member e's weights computes, and its initialization depends on its seed
alone."""
import torch

from reproduce.train.cnn import BatchedCNN
from reproduce.train import member_generators

CPU = torch.device("cpu")


def test_each_member_is_a_plain_cnn():
    torch.manual_seed(0)
    m = BatchedCNN((4, 8), 16, 7, 32, member_generators([1, 2, 3], CPU), CPU)
    x = torch.rand(3, 5, 1, 32, 32)
    out = m(x)
    assert out.shape == (3, 5, 7)
    for e in range(3):
        assert torch.allclose(out[e], m.member(e)(x[e]), atol=1e-5)
    # gradients stay inside a member: member 1's loss moves only member 1's weights
    out[1].sum().backward()
    g = m.convs[0].grad.view(3, 4, 1, 3, 3)
    assert g[0].abs().sum() == 0 and g[2].abs().sum() == 0 and g[1].abs().sum() > 0


def test_a_members_weights_depend_on_its_seed_alone():
    a = BatchedCNN((4,), 8, 5, 16, member_generators([7, 8], CPU), CPU)
    b = BatchedCNN((4,), 8, 5, 16, member_generators([9, 8, 10], CPU), CPU)
    assert torch.equal(a.convs[0].view(2, 4, 1, 3, 3)[1], b.convs[0].view(3, 4, 1, 3, 3)[1])
    assert torch.equal(a.head[1][1], b.head[1][1])
