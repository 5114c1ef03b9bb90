"""Evaluators follow the protocol: masked policies, values, symmetries, batching, weight swaps."""

import warnings

import numpy as np
import pytest
import torch

from alphago_lite.net import evaluator as evaluator_module
from alphago_lite.net import symmetry
from alphago_lite.net.evaluator import (
    Evaluator,
    EvaluatorInputError,
    InProcessEvaluator,
    UniformEvaluator,
    bucket_sizes,
    masked_softmax,
    masked_softmax_numpy,
)
from alphago_lite.net.model import PolicyValueNet

SIZE, PLANES = 5, 3


def tiny_net(seed=0):
    torch.manual_seed(seed)
    net = PolicyValueNet(SIZE, PLANES, blocks=2, channels=16, value_hidden=8, global_pooling=True)
    # Random batch-norm statistics so that the eval-mode net is not close to an identity.
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    return net.eval()


def random_batch(batch, seed=0):
    rng = np.random.default_rng(seed)
    planes = rng.integers(0, 2, size=(batch, PLANES, SIZE, SIZE), dtype=np.uint8)
    legal = rng.random((batch, SIZE * SIZE + 1)) < 0.4
    legal[:, -1] = True
    return planes, legal


def reference(net, planes, legal):
    with torch.no_grad():
        logits, value = net(torch.from_numpy(planes).float())
        logits = logits.masked_fill(~torch.from_numpy(legal), float("-inf"))
        return torch.softmax(logits, dim=1).numpy(), value.numpy()


def test_uniform_evaluator():
    ev = UniformEvaluator(3, "agz")
    assert isinstance(ev, Evaluator)
    legal = np.zeros((2, 10), dtype=bool)
    legal[0, [1, 4, 9]] = True
    legal[1, 9] = True
    policy, value = ev.evaluate(np.zeros((2, 17, 3, 3), dtype=np.uint8), legal)
    assert np.allclose(policy[0], np.where(legal[0], 1 / 3, 0)) and np.array_equal(policy[1], legal[1])
    assert policy.dtype == np.float32 and value.dtype == np.float32 and np.array_equal(value, [0, 0])
    # its checks are the protocol's, though most of them run in compiled code
    with pytest.raises(EvaluatorInputError, match=r"legal must be bool \[2, 10\]"):
        ev.evaluate(np.zeros((2, 17, 3, 3), dtype=np.uint8), legal[:, :-1])
    legal[1, 9] = False
    with pytest.raises(EvaluatorInputError, match=r"positions \[1\] have no legal move"):
        ev.evaluate(np.zeros((2, 17, 3, 3), dtype=np.uint8), legal)


def test_in_process_matches_plain_forward_and_masks():
    net = tiny_net()
    ev = InProcessEvaluator(net, SIZE, "agz")
    assert isinstance(ev, Evaluator)
    planes, legal = random_batch(12)
    policy, value = ev.evaluate(planes, legal)
    want_policy, want_value = reference(net, planes, legal)
    assert policy.dtype == np.float32 and value.dtype == np.float32
    assert policy.shape == (12, 26) and value.shape == (12,)
    np.testing.assert_allclose(policy, want_policy, atol=1e-5)
    np.testing.assert_allclose(value, want_value, atol=1e-5)
    assert np.all(policy[~legal] == 0.0)  # exactly zero, not just small
    assert np.all(policy[legal] > 0)
    np.testing.assert_allclose(policy.sum(axis=1), 1.0, atol=1e-5)


def test_batches_larger_than_max_batch_are_chunked():
    net = tiny_net()
    planes, legal = random_batch(11)
    whole = InProcessEvaluator(net, SIZE, "agz", max_batch=64).evaluate(planes, legal)
    chunked = InProcessEvaluator(net, SIZE, "agz", max_batch=4).evaluate(planes, legal)
    for a, b in zip(whole, chunked):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_random_symmetry_evaluates_each_position_under_its_drawn_symmetry():
    net = tiny_net()
    planes, legal = random_batch(16, seed=3)
    policy, value = InProcessEvaluator(net, SIZE, "agz", random_symmetry=True, seed=42).evaluate(planes, legal)
    drawn = np.random.default_rng(42).integers(0, 8, size=16)  # same stream the evaluator draws from
    assert len(set(drawn.tolist())) > 3
    for i, k in enumerate(drawn):
        t_policy, t_value = reference(net, symmetry.apply_to_planes(planes[i:i + 1], k),
                                      symmetry.apply_to_policy(legal[i:i + 1], k, SIZE))
        np.testing.assert_allclose(policy[i], symmetry.apply_to_policy(t_policy[0], symmetry.inverse(k), SIZE),
                                   atol=1e-5)
        np.testing.assert_allclose(value[i], t_value[0], atol=1e-5)
    assert np.all(policy[~legal] == 0.0)
    np.testing.assert_allclose(policy.sum(axis=1), 1.0, atol=1e-5)


def test_set_weights_changes_outputs_and_version():
    ev = InProcessEvaluator(tiny_net(0), SIZE, "agz")
    other = tiny_net(1)
    planes, legal = random_batch(4)
    before = ev.evaluate(planes, legal)
    ev.set_weights(5, other.state_dict())
    assert ev.weights_version == 5
    after = ev.evaluate(planes, legal)
    np.testing.assert_allclose(after[0], reference(other, planes, legal)[0], atol=1e-5)
    assert not np.allclose(before[0], after[0])


def test_cpu_bf16_keeps_the_protocol_and_stays_close_to_fp32():
    net = tiny_net()
    planes, legal = random_batch(12, seed=5)
    ev = InProcessEvaluator(net, SIZE, "agz", precision="bf16")
    assert ev.precision == "bf16"
    policy, value = ev.evaluate(planes, legal)
    want_policy, want_value = reference(net, planes, legal)
    assert policy.dtype == np.float32 and value.dtype == np.float32  # autocast inside, float32 out
    assert np.all(policy[~legal] == 0.0) and np.all(np.abs(value) <= 1)
    np.testing.assert_allclose(policy.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(policy, want_policy, atol=0.02)
    np.testing.assert_allclose(value, want_value, atol=0.02)
    assert not np.allclose(policy, want_policy, atol=1e-7)  # bf16 really ran


@pytest.mark.parametrize("kind, warns", [("none", True), ("avx512", False), ("amx", False)])
def test_bf16_asked_for_on_a_cpu_without_bf16_instructions_warns_that_it_is_emulated(monkeypatch, kind, warns):
    monkeypatch.setattr(evaluator_module, "cpu_bf16_kind", lambda: kind)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert InProcessEvaluator(tiny_net(), SIZE, "agz", precision="bf16").precision == "bf16"
        assert InProcessEvaluator(tiny_net(), SIZE, "agz", precision="fp32").precision == "fp32"
    emulated = [w for w in caught if "runs emulated" in str(w.message)]
    assert len(emulated) == (1 if warns else 0)


def test_precision_is_checked_and_auto_resolves_to_a_format():
    with pytest.raises(ValueError, match="precision must be one of auto, fp32, bf16, got 'half'"):
        InProcessEvaluator(tiny_net(), SIZE, "agz", precision="half")
    assert InProcessEvaluator(tiny_net(), SIZE, "agz").precision == "fp32"  # the default: exact answers
    assert InProcessEvaluator(tiny_net(), SIZE, "agz", precision="auto").precision in ("fp32", "bf16")


def test_prepared_weights_swap_like_a_state_dict():
    ev = InProcessEvaluator(tiny_net(0), SIZE, "agz")
    other = tiny_net(1)
    planes, legal = random_batch(4)
    ev.set_weights(2, ev.prepare_weights(other.state_dict()))
    assert ev.weights_version == 2
    np.testing.assert_allclose(ev.evaluate(planes, legal)[0], reference(other, planes, legal)[0], atol=1e-5)


def test_bad_inputs_are_rejected():
    ev = InProcessEvaluator(tiny_net(), SIZE, "agz")
    planes, legal = random_batch(2)
    with pytest.raises(EvaluatorInputError, match=r"planes must be uint8 \[B, 3, 5, 5\]"):
        ev.evaluate(planes.astype(np.float32), legal)
    with pytest.raises(EvaluatorInputError, match=r"planes must be uint8 \[B, 3, 5, 5\]"):
        ev.evaluate(planes[:, :2], legal)
    with pytest.raises(EvaluatorInputError, match=r"legal must be bool \[2, 26\]"):
        ev.evaluate(planes, legal[:, :-1])
    legal[1] = False
    with pytest.raises(EvaluatorInputError, match=r"positions \[1\] have no legal move"):
        ev.evaluate(planes, legal)
    with pytest.raises(ValueError, match="board size 5, not 9"):
        InProcessEvaluator(tiny_net(), 9, "agz")


def test_masked_softmax_and_buckets():
    p = masked_softmax(torch.tensor([[1.0, 50.0, 1.0]]), torch.tensor([[True, False, True]]))
    assert p.tolist() == [[0.5, 0.0, 0.5]]
    assert masked_softmax_numpy(np.array([[1.0, 50.0, 1.0]], np.float32),
                                np.array([[True, False, True]])).tolist() == [[0.5, 0.0, 0.5]]
    assert bucket_sizes(100) == [8, 16, 32, 64, 100]
    assert bucket_sizes(1024)[-2:] == [512, 1024]


def test_masked_softmax_in_numpy_equals_torchs():
    rng = np.random.default_rng(3)
    logits = (rng.standard_normal((64, 82)) * 8).astype(np.float32)
    legal = rng.random((64, 82)) < 0.3
    legal[:, -1] = True  # pass: every row has a legal move
    legal[0] = False
    legal[0, 5] = True  # a row with one legal move gets probability 1 there
    want = masked_softmax(torch.from_numpy(logits), torch.from_numpy(legal)).numpy()
    got = masked_softmax_numpy(logits, legal)
    assert got.dtype == np.float32 and (got[~legal] == 0).all() and got[0, 5] == 1.0
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)

