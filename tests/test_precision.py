"""Precision: what ``auto`` picks, the timing trial behind it, and that bf16 and OpenVINO answer what fp32
answers on real positions, within the tolerances stated below."""
import dataclasses
import importlib.util
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from alphago_lite.config import ConfigError, InferenceConfig, LearnerConfig
from alphago_lite.net import precision as precision_module
from alphago_lite.net.evaluator import InProcessEvaluator
from alphago_lite.net.features import encode_game
from alphago_lite.net.model import PolicyValueNet
from alphago_lite.net.precision import cpu_bf16_kind, cpu_flags, faster_precision, resolve_precision
from alphago_lite.sgf import game_from_sgf, load_sgf

SGF = Path(__file__).parent / "data" / "sgf" / "alphago_vs_alphago_g1.sgf"  # AlphaGo self-play, 2016

# A bf16 forward against fp32 on these positions (measured: policy |dp| <= 8.6e-3, KL <= 9e-4, value
# |dv| <= 2e-3, for torch autocast and OpenVINO's bf16 alike); OpenVINO f32 against torch fp32 (1e-6).
BF16_POLICY_DIFF = 0.03
BF16_KL = 5e-3
BF16_VALUE_DIFF = 0.01
F32_DIFF = 1e-5


# ------------------------------------------------------------------ what auto picks
def test_auto_is_bf16_on_cuda_and_amx_and_fp32_without_bf16():
    assert resolve_precision("auto", "cuda", flags=frozenset()) == "bf16"
    assert resolve_precision("auto", "cpu", flags=frozenset({"avx512f", "amx_bf16", "avx512_bf16"})) == "bf16"
    assert resolve_precision("auto", "cpu", flags=frozenset({"avx2", "avx512f"})) == "fp32"
    assert resolve_precision("auto", "cpu", flags=frozenset()) == "fp32"  # no /proc/cpuinfo


def test_auto_on_avx512_bf16_without_amx_follows_the_trial():
    flags = frozenset({"avx512f", "avx512_bf16"})
    assert cpu_bf16_kind(flags) == "avx512"
    assert resolve_precision("auto", "cpu", trial=lambda: "bf16", flags=flags) == "bf16"
    assert resolve_precision("auto", "cpu", trial=lambda: "fp32", flags=flags) == "fp32"
    assert resolve_precision("auto", "cpu", flags=flags) == "fp32"  # nobody timed it: the exact format


def test_explicit_precisions_are_kept_and_unknown_ones_rejected():
    never = lambda: pytest.fail("an explicit precision needs no trial")
    assert resolve_precision("bf16", "cpu", trial=never, flags=frozenset()) == "bf16"
    assert resolve_precision("fp32", "cuda", trial=never) == "fp32"
    with pytest.raises(ValueError, match="precision must be one of auto, fp32, bf16, got 'fp16'"):
        resolve_precision("fp16", "cpu")


def test_cpu_flags_come_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Xeon\nflags\t\t: fpu avx512f avx512_bf16 sse2\n\n"
                       "processor\t: 1\nflags\t\t: fpu avx512f avx512_bf16 sse2\n")
    assert cpu_flags(str(cpuinfo)) == {"fpu", "avx512f", "avx512_bf16", "sse2"}
    assert cpu_flags(str(tmp_path / "missing")) == frozenset()


class FakeClock:
    """A clock that a fake forward advances by the time it says it took."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def timed_forwards(clock, durations):
    """A forward whose calls of each precision take the next of ``durations[precision]``."""
    left = {name: list(times) for name, times in durations.items()}

    def forward(name):
        clock.now += left[name].pop(0)
    return forward


def test_the_trial_takes_bf16_only_when_its_fastest_forward_is_clearly_faster():
    # one warm-up call each, then 3 timed rounds; the warm-up's time never counts
    clock = FakeClock()
    assert faster_precision(timed_forwards(clock, {"fp32": [9, 1.0, 1.0, 1.0], "bf16": [9, 0.5, 3.0, 0.6]}),
                            clock) == "bf16"  # a slow outlier (a neighbour's burst) does not hide 0.5
    clock = FakeClock()
    assert faster_precision(timed_forwards(clock, {"fp32": [0, 1.0, 1.0, 1.0], "bf16": [0, 0.95, 0.95, 0.95]}),
                            clock) == "fp32"  # within the 10% margin: the exact format
    clock = FakeClock()
    assert faster_precision(timed_forwards(clock, {"fp32": [0, 1.0, 0.8, 1.0], "bf16": [0, 1.0, 1.0, 1.0]}),
                            clock) == "fp32"


# ------------------------------------------------------------------ accuracy on real positions
def sgf_positions(every: int = 8):
    """Planes and legal masks of every ``every``-th position of a real 19x19 game (30 positions)."""
    record = load_sgf(SGF)
    games = [game_from_sgf(dataclasses.replace(record, moves=record.moves[:k], comments=()))
             for k in range(0, len(record.moves), every)]
    return np.stack([encode_game(g, "agz") for g in games]), np.stack([g.legal_mask() for g in games])


def peaked_net():
    """A 19x19 6x64 net whose eval-mode batch norms are not identities and whose policy is about as
    peaked as a trained net's (top move 6-16% among ~300 legal moves): the case where bf16 rounding of
    large logits shows most."""
    torch.manual_seed(1)
    net = PolicyValueNet(19, 17, blocks=6, channels=64)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    with torch.no_grad():
        net.policy_fc.weight.mul_(60)
    return net.eval()


def kl(p, q):
    """KL(p || q) per row, over the moves p gives weight to."""
    inside = p > 0
    return np.where(inside, p * (np.log(np.where(inside, p, 1)) - np.log(np.where(inside, q, 1))), 0).sum(axis=1)


def assert_bf16_close(policy, value, want_policy, want_value, legal):
    assert policy.dtype == np.float32 and value.dtype == np.float32
    assert np.all(policy[~legal] == 0.0)
    np.testing.assert_allclose(policy.sum(axis=1), 1.0, atol=1e-5)
    assert np.abs(policy - want_policy).max() <= BF16_POLICY_DIFF
    assert kl(want_policy, policy).max() <= BF16_KL
    assert np.abs(value - want_value).max() <= BF16_VALUE_DIFF
    assert np.abs(policy - want_policy).max() > 1e-6  # it really ran in bf16: fp32 would agree to 1e-7


@pytest.mark.slow  # 2 s where bf16 is emulated (no avx512_bf16); test_evaluator's bf16 test stays in the quick tier
def test_torch_bf16_answers_what_fp32_answers_on_real_positions():
    planes, legal = sgf_positions()
    net = peaked_net()
    want_policy, want_value = InProcessEvaluator(net, 19, "agz").evaluate(planes, legal)
    assert want_policy.max(axis=1).min() > 0.05  # the net is as peaked as intended
    bf16 = InProcessEvaluator(net, 19, "agz", precision="bf16")
    assert bf16.precision == "bf16" and bf16.bf16
    assert_bf16_close(*bf16.evaluate(planes, legal), want_policy, want_value, legal)


@pytest.mark.slow  # two OpenVINO exports of a 6-block net
def test_openvino_answers_what_torch_fp32_answers_on_real_positions():
    pytest.importorskip("openvino")
    from alphago_lite.net.openvino_backend import OpenVinoEvaluator
    planes, legal = sgf_positions()
    net = peaked_net()
    want_policy, want_value = InProcessEvaluator(net, 19, "agz").evaluate(planes, legal)
    f32 = OpenVinoEvaluator(net, 19, "agz", precision="fp32", max_batch=16)  # 30 positions: two chunks
    policy, value = f32.evaluate(planes, legal)
    np.testing.assert_allclose(policy, want_policy, atol=F32_DIFF)
    np.testing.assert_allclose(value, want_value, atol=F32_DIFF)
    assert np.all(policy[~legal] == 0.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bf16 = OpenVinoEvaluator(net, 19, "agz", precision="bf16")
    fallback = [str(w.message) for w in caught if "OpenVINO runs this net in" in str(w.message)]
    if "BF16" in openvino_cpu_capabilities():
        assert bf16.precision == "bf16" and not fallback
        assert_bf16_close(*bf16.evaluate(planes, legal), want_policy, want_value, legal)
    else:  # OpenVINO compiles a bf16 hint as f32 on such a CPU: the evaluator must say what runs
        assert bf16.precision == "fp32" and fallback and "no bf16 instructions" in fallback[0]
        policy, value = bf16.evaluate(planes, legal)
        np.testing.assert_allclose(policy, want_policy, atol=F32_DIFF)
        np.testing.assert_allclose(value, want_value, atol=F32_DIFF)


def openvino_cpu_capabilities():
    import openvino
    return openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def test_openvino_compiled_precision_reads_what_the_compiled_net_runs():
    openvino = pytest.importorskip("openvino")
    from alphago_lite.net.openvino_backend import compiled_precision

    class Compiled:  # stands in for a CompiledModel: only its read-back hint matters here
        def __init__(self, runs):
            self.runs = runs

        def get_property(self, name):
            assert name == "INFERENCE_PRECISION_HINT"
            return self.runs
    assert compiled_precision(Compiled(openvino.Type.f32)) == "fp32"
    assert compiled_precision(Compiled(openvino.Type.bf16)) == "bf16"
    with pytest.raises(RuntimeError, match="'f16'.*set inference.precision to fp32"):
        compiled_precision(Compiled(openvino.Type.f16))


# ------------------------------------------------------------------ OpenVINO weight swaps and errors
def small_net(seed):
    torch.manual_seed(seed)
    return PolicyValueNet(5, 17, blocks=1, channels=8, value_hidden=8).eval()


@pytest.mark.slow  # an export, a process that exports three more, and four compiles
def test_openvino_swap_compiles_beside_the_running_net_and_switches_at_set_weights():
    pytest.importorskip("openvino")
    from alphago_lite.net.openvino_backend import CompiledNet, OpenVinoEvaluator
    rng = np.random.default_rng(0)
    planes = (rng.random((6, 17, 5, 5)) < 0.3).astype(np.uint8)
    legal = np.ones((6, 26), dtype=bool)
    old, new = (InProcessEvaluator(small_net(s), 5, "agz").evaluate(planes, legal) for s in (0, 1))
    ev = OpenVinoEvaluator(small_net(0), 5, "agz", max_batch=8)
    prepared = ev.prepare_weights(small_net(1).state_dict())
    assert isinstance(prepared, CompiledNet)
    np.testing.assert_allclose(ev.evaluate(planes, legal)[0], old[0], atol=F32_DIFF)  # not in use yet
    assert ev.weights_version == 0
    ev.set_weights(3, prepared)
    assert ev.weights_version == 3
    np.testing.assert_allclose(ev.evaluate(planes, legal)[0], new[0], atol=F32_DIFF)
    with pytest.raises(RuntimeError, match="OpenVINO export failed.*Missing key"):
        ev.prepare_weights({"stem.0.weight": torch.zeros(8, 17, 3, 3)})  # the export process says why
    np.testing.assert_allclose(ev.evaluate(planes, legal)[0], new[0], atol=F32_DIFF)  # still the last weights
    ev.set_weights(4, small_net(0).state_dict())  # a plain state dict is compiled on the spot
    np.testing.assert_allclose(ev.evaluate(planes, legal)[0], old[0], atol=F32_DIFF)


def test_a_missing_openvino_is_a_clear_error(monkeypatch):
    from actors.inference import start_inference_servers
    from alphago_lite.net.openvino_backend import BackendUnavailable, OpenVinoEvaluator
    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino now raises ImportError
    with pytest.raises(BackendUnavailable, match=r"needs the openvino package: pip install 'alphago-lite\[openvino\]'"):
        OpenVinoEvaluator(small_net(0), 5, "agz")
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "openvino" else
                        real_find_spec(name, *a))
    with pytest.raises(ConfigError, match=r"inference.backend.*needs the openvino package"):
        start_inference_servers(InferenceConfig(backend="openvino"), small_net(0).arch(), "agz")


# ------------------------------------------------------------------ config keys
def test_precision_and_backend_keys():
    assert (InferenceConfig().precision, InferenceConfig().backend) == ("auto", "torch")
    assert InferenceConfig(precision="bf16").requested_precision() == "bf16"
    assert InferenceConfig(bf16=False).requested_precision() == "fp32"  # an old config's "no bf16"
    with pytest.raises(ConfigError, match="'precision': must be one of 'auto', 'fp32', 'bf16'"):
        InferenceConfig(precision="fp16")
    with pytest.raises(ConfigError, match="'backend': openvino runs on the CPU"):
        InferenceConfig(backend="openvino", device="cuda")
    with pytest.raises(ConfigError, match="'precision': contradicts the legacy bf16: false"):
        InferenceConfig(precision="bf16", bf16=False)


# ------------------------------------------------------------------ the learner
def training_batch(size=5, batch=32, seed=0):
    rng = np.random.default_rng(seed)
    planes = (rng.random((batch, 17, size, size)) < 0.3).astype(np.uint8)
    policy = rng.dirichlet(np.ones(size * size + 1), size=batch).astype(np.float32)
    return planes, policy, rng.choice([-1.0, 1.0], size=batch).astype(np.float32)


def with_flags(monkeypatch, *flags):
    monkeypatch.setattr(precision_module, "cpu_flags", lambda cpuinfo=None: frozenset(flags))


def test_the_learner_trains_in_bf16_where_the_cpu_has_amx(monkeypatch):
    from learner.trainer import Trainer
    with_flags(monkeypatch, "avx512f", "amx_bf16")
    fp32 = Trainer(small_net(0), LearnerConfig(mixed_precision=False))
    bf16 = Trainer(small_net(0), LearnerConfig(mixed_precision=True))
    assert (fp32.autocast, bf16.autocast) == (False, True)
    want, got = fp32.train_step(*training_batch()), bf16.train_step(*training_batch())
    assert abs(got["loss"] - want["loss"]) < 0.05 and got["loss"] != want["loss"]
    assert all(p.dtype == torch.float32 for p in bf16.model.parameters())  # autocast: fp32 master weights
    with_flags(monkeypatch, "avx2")
    assert not Trainer(small_net(0), LearnerConfig(mixed_precision=True)).autocast


def test_the_learners_timing_trial_leaves_the_net_as_it_was(monkeypatch):
    from learner.trainer import Trainer
    with_flags(monkeypatch, "avx512f", "avx512_bf16")  # no AMX: a timed trial decides
    net = small_net(0).train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    trainer = Trainer(net, LearnerConfig(mixed_precision=True))
    assert trainer.autocast in (True, False)  # which one depends on this machine
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())  # no batch-norm statistic moved
    assert all(p.grad is None for p in net.parameters()) and net.training


# ------------------------------------------------------------------ front ends
OLD_CHECKPOINT = Path(__file__).parent / "data" / "before_layout" / "tiny-5x5.pt"


def test_play_gtp_and_match_take_a_precision():
    import argparse
    import io

    from alphago_lite.commands import gtp, play
    from alphago_lite.commands.match import add_match_arguments
    from alphago_lite.play.match import make_player
    cli = argparse.ArgumentParser()
    commands = cli.add_subparsers()
    play.register(commands)
    gtp.register(commands)
    assert cli.parse_args(["gtp"]).precision == cli.parse_args(["play"]).precision == "auto"
    args = cli.parse_args(["play", "--model", str(OLD_CHECKPOINT), "--precision", "bf16"])
    assert play.build_agent(args, log=io.StringIO()).evaluator.precision == "bf16"
    with pytest.raises(SystemExit):
        cli.parse_args(["gtp", "--precision", "fp16"])

    match = argparse.ArgumentParser()
    add_match_arguments(match)
    args = match.parse_args(["model:a.pt", "model:b.pt", "--precision", "fp32", "--precision-b", "bf16"])
    assert (args.precision, args.precision_b) == ("fp32", "bf16")
    assert make_player(f"model:{OLD_CHECKPOINT}", visits=4, precision="bf16").agent.evaluator.precision == "bf16"
    assert make_player(f"model:{OLD_CHECKPOINT}", visits=4).agent.evaluator.precision == "fp32"
