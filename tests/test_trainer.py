"""The training step's ownership term (learner/trainer.py): KataGo's formula by hand, masking of games
recorded without ownership, nets without the head, and that a few steps learn a fixed target."""
import numpy as np
import pytest
import torch

from alphago_lite.config import LearnerConfig
from alphago_lite.net.model import PolicyValueNet
from learner.trainer import OWNERSHIP_WEIGHT, Trainer

SIZE, PLANES, BATCH = 5, 17, 4


def batch(seed: int = 0):
    rng = np.random.default_rng(seed)
    planes = rng.integers(0, 2, (BATCH, PLANES, SIZE, SIZE)).astype(np.uint8)
    policy = rng.dirichlet(np.ones(SIZE * SIZE + 1), BATCH).astype(np.float32)
    value = rng.choice([-1.0, 1.0], BATCH).astype(np.float32)
    ownership = rng.choice([-1.0, 0.0, 1.0], (BATCH, SIZE, SIZE)).astype(np.float32)
    return planes, policy, value, ownership


def trainer(ownership_head: bool = True, lr: float = 0.01) -> Trainer:
    torch.manual_seed(0)
    net = PolicyValueNet(SIZE, PLANES, blocks=1, channels=8, value_hidden=8, ownership_head=ownership_head)
    return Trainer(net, LearnerConfig(lr=lr, batch_size=BATCH, mixed_precision=False))


@pytest.mark.parametrize("mask", [[1, 1, 1, 1], [1, 0, 1, 0]])
def test_the_ownership_loss_is_katagos_cross_entropy_per_point_scaled_by_the_area(mask):
    t = trainer()
    planes, policy, value, ownership = batch()
    t.model.train()
    with torch.no_grad():
        predicted = t.model.heads(torch.from_numpy(planes).float()).ownership.numpy().astype(np.float64)
    p = np.clip((1 + predicted) / 2, 1e-6, 1 - 1e-6)
    target = (1 + ownership) / 2
    per_row = OWNERSHIP_WEIGHT / SIZE**2 * -(target * np.log(p) + (1 - target) * np.log(1 - p)).sum(axis=(1, 2))
    expected = (per_row * np.array(mask)).mean()
    losses = t.train_step(planes, policy, value, ownership, np.array(mask, np.float32))
    assert losses["ownership_loss"] == pytest.approx(expected, rel=1e-5)
    assert losses["loss"] == pytest.approx(losses["policy_loss"] + losses["value_loss"] + expected, rel=1e-5)


def test_rows_without_ownership_add_nothing():
    t = trainer()
    planes, policy, value, ownership = batch()
    before = t.model.ownership_conv.weight.detach().clone()
    losses = t.train_step(planes, policy, value, ownership, np.zeros(BATCH, np.float32))
    assert losses["ownership_loss"] == 0.0
    # no gradient reached the head: only weight decay moved it (SGD: w <- w - lr * wd * w, first step)
    expected = before * (1 - 0.01 * 1e-4)
    torch.testing.assert_close(t.model.ownership_conv.weight.detach(), expected)


def test_a_net_without_the_head_trains_on_policy_and_value_only():
    t = trainer(ownership_head=False)
    planes, policy, value, ownership = batch()
    losses = t.train_step(planes, policy, value, ownership, np.ones(BATCH, np.float32))
    assert "ownership_loss" not in losses
    assert losses["loss"] == pytest.approx(losses["policy_loss"] + losses["value_loss"], rel=1e-6)
    assert "ownership_loss" not in t.train_step(planes, policy, value)  # the three-array call still works


def test_a_few_steps_learn_a_fixed_ownership_target():
    t = trainer(lr=0.1)
    planes, policy, value, ownership = batch(1)
    mask = np.ones(BATCH, np.float32)
    first = t.train_step(planes, policy, value, ownership, mask)["ownership_loss"]
    for _ in range(20):
        last = t.train_step(planes, policy, value, ownership, mask)["ownership_loss"]
    assert last < 0.8 * first
