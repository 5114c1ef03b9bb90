"""The policy/value net: shapes, learning a trivial target, and checkpoint files."""

import os

import pytest
import torch
from torch.nn import functional as F

from alphago_lite.config import ModelConfig, load_config
from alphago_lite.net.checkpoint import (
    ARCH_BOUNDS,
    FORMAT_VERSION,
    CheckpointError,
    load_checkpoint,
    load_model,
    save_checkpoint,
)
from alphago_lite.net.model import PolicyValueNet, build_model


def tiny_net(size=5, planes=3, **options):
    torch.manual_seed(0)
    return PolicyValueNet(size, planes, blocks=2, channels=16, value_hidden=8, **options)


@pytest.mark.parametrize("options", [{}, {"global_pooling": True, "ownership_head": True}])
def test_output_shapes(options):
    net = tiny_net(size=7, planes=17, **options).eval()
    x = torch.randint(0, 2, (4, 17, 7, 7)).float()
    policy_logits, value = net(x)  # the 2-tuple API holds whatever the options
    assert policy_logits.shape == (4, 50) and value.shape == (4,)
    assert value.abs().max() <= 1
    heads = net.heads(x)
    assert heads.ownership is None if not options else heads.ownership.shape == (4, 7, 7)
    assert torch.allclose(heads.policy_logits, policy_logits) and torch.allclose(heads.value, value)


def test_wrong_input_shape_is_a_clear_error():
    with pytest.raises(ValueError, match=r"\[B, 3, 5, 5\]"):
        tiny_net()(torch.zeros(2, 3, 9, 9))


def test_build_model_from_config():
    net = build_model(ModelConfig(blocks=3, channels=8, value_hidden=4, global_pooling=True), 9, 17)
    assert net.arch() == dict(board_size=9, in_planes=17, blocks=3, channels=8, value_hidden=4,
                              global_pooling=True, ownership_head=False)
    assert len(net.tower) == 3


def test_tiny_net_learns_a_fixed_batch():
    torch.manual_seed(0)
    net = PolicyValueNet(5, 3, blocks=1, channels=16, value_hidden=16)
    x = torch.randint(0, 2, (16, 3, 5, 5)).float()
    target_move = torch.randint(0, 26, (16,))
    target_value = torch.rand(16) * 1.6 - 0.8
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)

    def loss_fn():
        logits, value = net(x)
        return F.cross_entropy(logits, target_move) + F.mse_loss(value, target_value)

    first = loss_fn().item()
    for _ in range(100):
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        opt.step()
    assert loss_fn().item() < first / 10, (first, loss_fn().item())


# ---------------------------------------------------------------- checkpoints
@pytest.fixture
def saved(tmp_path):
    net = tiny_net(global_pooling=True).eval()
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    net(torch.ones(2, 3, 5, 5))[1].sum().backward()
    opt.step()
    path = save_checkpoint(tmp_path / "ckpt" / "model.pt", net, feature_set="agz", step=123,
                           optimizer_state=opt.state_dict(), extra={"weights_version": 7, "note": "hi"})
    return net, path


def test_checkpoint_round_trip(saved):
    net, path = saved
    loaded, meta = load_model(path, expect_board_size=5, expect_feature_set="agz")
    x = torch.randint(0, 2, (3, 3, 5, 5)).float()
    with torch.inference_mode():
        assert all(torch.equal(a, b) for a, b in zip(net(x), loaded(x)))
    assert (meta.step, meta.feature_set, meta.board_size, meta.format_version) == (123, "agz", 5, FORMAT_VERSION)
    assert meta.extra == {"weights_version": 7, "note": "hi"}
    assert meta.optimizer_state["param_groups"][0]["momentum"] == 0.9
    assert not loaded.training
    assert [p.name for p in path.parent.iterdir()] == ["model.pt"]  # no temp file left behind


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="nope.pt: no such file"):
        load_model(tmp_path / "nope.pt")


def test_truncated_file(saved):
    _, path = saved
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=f"{path.name}: unreadable or corrupted"):
        load_model(path)


def test_garbage_bytes(tmp_path):
    path = tmp_path / "garbage.pt"
    path.write_bytes(os.urandom(1000))
    with pytest.raises(CheckpointError, match="garbage.pt: unreadable or corrupted"):
        load_model(path)


def test_not_our_format_and_wrong_version(saved, tmp_path):
    _, path = saved
    payload = torch.load(path, weights_only=True)
    payload["format_version"] = FORMAT_VERSION + 1
    torch.save(payload, tmp_path / "future.pt")
    with pytest.raises(CheckpointError, match=f"future.pt: format version {FORMAT_VERSION + 1} is not supported"):
        load_model(tmp_path / "future.pt")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="other.pt: not an alphago_lite checkpoint"):
        load_model(tmp_path / "other.pt")


def test_missing_keys_and_mismatched_weights(saved, tmp_path):
    _, path = saved
    payload = torch.load(path, weights_only=True)
    del payload["step"]
    torch.save(payload, tmp_path / "nostep.pt")
    with pytest.raises(CheckpointError, match=r"nostep.pt: missing keys \['step'\]"):
        load_model(tmp_path / "nostep.pt")
    payload = torch.load(path, weights_only=True)
    payload["arch"]["channels"] = 8
    torch.save(payload, tmp_path / "shape.pt")
    with pytest.raises(CheckpointError, match="shape.pt: weights do not fit"):
        load_model(tmp_path / "shape.pt")


@pytest.mark.parametrize("field, value, message", [
    ("blocks", 10**9, "arch.blocks = 1000000000 is outside 0..64"),
    ("channels", 1025, "arch.channels = 1025 is outside 1..1024"),
    ("board_size", 0, "arch.board_size = 0 is outside 2..25"),
    ("in_planes", -3, "arch.in_planes = -3 is outside 1..256"),
    ("value_hidden", 10**12, "arch.value_hidden = 1000000000000 is outside 1..4096"),
    ("blocks", True, "arch.blocks = True is outside 0..64"),
    ("channels", "64", "arch.channels = '64' is outside 1..1024"),
])
def test_architecture_fields_out_of_bounds_are_refused_before_a_net_is_built(saved, tmp_path, field, value,
                                                                               message):
    """The tower of 10**9 blocks would allocate memory for ever (the issue saw 45 MB/s) if it were built."""
    _, path = saved
    payload = torch.load(path, weights_only=True)
    payload["arch"][field] = value
    torch.save(payload, tmp_path / "huge.pt")
    with pytest.raises(CheckpointError, match=f"huge.pt: {message}"):
        load_model(tmp_path / "huge.pt")


@pytest.mark.parametrize("config", ["tiny", "go9_cpu", "go9_gpu", "go19_cluster"])
def test_arch_bounds_admit_the_nets_the_configs_train(config):
    model = load_config(f"configs/{config}.yaml").model
    for field in ("blocks", "channels", "value_hidden"):
        low, high = ARCH_BOUNDS[field]
        assert low <= getattr(model, field) <= high, field


def test_an_arch_that_is_not_a_dict_is_refused(saved, tmp_path):
    _, path = saved
    payload = torch.load(path, weights_only=True)
    payload["arch"] = [6, 64]
    torch.save(payload, tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match="list.pt: arch is a list, not a dict"):
        load_model(tmp_path / "list.pt")


def test_mismatched_board_size_or_feature_set(saved):
    _, path = saved
    with pytest.raises(CheckpointError, match="trained for board size 5, expected 9"):
        load_model(path, expect_board_size=9)
    with pytest.raises(CheckpointError, match="trained with feature set 'agz', expected 'rich'"):
        load_checkpoint(path, expect_feature_set="rich")


def test_pickled_objects_are_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": "alphago_lite.checkpoint", "payload": ValueError("an arbitrary object")}, path)
    with pytest.raises(CheckpointError, match="evil.pt: unreadable"):
        load_model(path)
