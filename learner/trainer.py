"""One training step of the policy/value net, its optimizer and learning-rate schedule (no Ray).

loss = cross_entropy(policy_logits, policy_target) + value_loss_weight * mse(value, outcome)
       [+ ownership loss, when the net has an ownership head and the batch brings ownership targets]
with weight decay applied by the optimizer (SGD with momentum, or AdamW). The policy target is the
visit distribution (PUCT) or the improved policy pi' (Gumbel).
Ownership loss, as KataGo's: OWNERSHIP_WEIGHT / (S*S) times the sum over the points of the binary
cross-entropy between (1 + target) / 2 and (1 + predicted) / 2 (target +1 / -1 / 0: owned by the
player to move / by the opponent / neither); averaged over the batch, rows with mask 0 (games recorded
without ownership) counting as zero.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from alphago_lite.config import LearnerConfig
from alphago_lite.net.model import PolicyValueNet
from alphago_lite.net.precision import faster_precision, resolve_precision

OWNERSHIP_WEIGHT = 1.5  # KataGo's weight of the ownership loss, spread over the board's points
PRECISION_TRIAL_BATCH = 64  # positions per timed step when a CPU's flags cannot tell whether bf16 pays


def learning_rate(cfg: LearnerConfig, step: int) -> float:
    if cfg.lr_schedule == "cosine":
        progress = min(step / max(cfg.total_steps, 1), 1.0)
        return cfg.lr * 0.5 * (1.0 + math.cos(math.pi * progress))
    if cfg.lr_schedule == "step":
        passed = sum(1 for m in cfg.lr_milestones if step >= m)
        return cfg.lr * cfg.lr_decay ** passed
    return cfg.lr


def build_optimizer(model: torch.nn.Module, cfg: LearnerConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                           weight_decay=cfg.weight_decay, nesterov=cfg.momentum > 0)


class Trainer:
    """Owns the model in train mode, its optimizer and the step counter."""

    def __init__(self, model: torch.nn.Module, cfg: LearnerConfig, device: str = "cpu", step: int = 0):
        self.cfg, self.step = cfg, step
        self.device = torch.device(device)
        # On CPU, channels_last (NHWC) spares oneDNN a reorder per convolution: a 4x48 9x9 bf16 step of
        # 128 positions ran 542-567 steps/min against 407-419 in NCHW (2-core Xeon with AMX, 1 thread)
        self.model = model.to(self.device, memory_format=torch.channels_last) if self.device.type == "cpu" \
            else model.to(self.device)
        self.optimizer = build_optimizer(self.model, cfg)
        # bf16 autocast where it pays: GPU, AMX, or an avx512_bf16 CPU where a timed step finds it faster
        self.autocast = cfg.mixed_precision and \
            resolve_precision("auto", self.device.type, trial=self._precision_trial) == "bf16"

    def _precision_trial(self) -> str:
        """'bf16' or 'fp32', whichever runs a forward and backward faster (``faster_precision``); in eval
        mode, so that no batch-norm statistic moves, and the gradients are dropped afterwards."""
        net = self.model
        x = torch.zeros((PRECISION_TRIAL_BATCH, net.in_planes, net.board_size, net.board_size), device=self.device)

        def forward_backward(precision: str) -> None:
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
                logits, value = net(x)[:2]
            (logits.float().sum() + value.float().sum()).backward()
        was_training = net.training
        net.eval()
        try:
            return faster_precision(forward_backward)
        finally:
            net.zero_grad(set_to_none=True)
            net.train(was_training)

    def train_step(self, planes: np.ndarray, policy: np.ndarray, value: np.ndarray,
                   ownership: np.ndarray | None = None, ownership_mask: np.ndarray | None = None) -> dict:
        """planes uint8 [B,C,S,S], policy float32 [B,A] (policy targets), value float32 [B]; optional
        ownership float32 [B,S,S] for the player to move and its mask float32 [B] (replay.sample)."""
        self.model.train()
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate(self.cfg, self.step)
        x = torch.from_numpy(np.array(planes, np.uint8)).to(self.device, non_blocking=True).float()
        target_pi = torch.from_numpy(np.array(policy, np.float32)).to(self.device)
        target_z = torch.from_numpy(np.array(value, np.float32)).to(self.device)
        trains_ownership = ownership is not None and self._has_ownership_head()
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            logits, v, predicted_ownership = self.model.heads(x) if trains_ownership else (*self.model(x)[:2], None)
        policy_loss = -(target_pi * F.log_softmax(logits.float(), dim=1)).sum(dim=1).mean()
        value_loss = F.mse_loss(v.float(), target_z)
        loss = policy_loss + self.cfg.value_loss_weight * value_loss
        extra = {}
        if trains_ownership:
            ownership_loss = self._ownership_loss(predicted_ownership.float(), ownership, ownership_mask)
            loss = loss + ownership_loss
            extra["ownership_loss"] = ownership_loss.item()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.step += 1
        return {"loss": loss.item(), "policy_loss": policy_loss.item(), "value_loss": value_loss.item(),
                **extra, "lr": learning_rate(self.cfg, self.step - 1)}

    def _has_ownership_head(self) -> bool:
        return isinstance(self.model, PolicyValueNet) and self.model.ownership_conv is not None

    def _ownership_loss(self, predicted: torch.Tensor, ownership: np.ndarray,
                        mask: np.ndarray | None) -> torch.Tensor:
        """KataGo's ownership term (see the module docstring) for predicted float [B,S,S] in [-1, 1]."""
        target = torch.from_numpy(np.array(ownership, np.float32)).to(self.device)
        rows = torch.ones(len(target), device=self.device) if mask is None else \
            torch.from_numpy(np.array(mask, np.float32)).to(self.device)
        # tanh can round to exactly +-1 in float32: keep both logs finite
        p = ((1.0 + predicted) / 2.0).clamp(1e-6, 1.0 - 1e-6)
        t = (1.0 + target) / 2.0
        per_point = -(t * torch.log(p) + (1.0 - t) * torch.log(1.0 - p))  # [B, S, S]
        points = target.shape[-1] * target.shape[-2]
        per_row = OWNERSHIP_WEIGHT / points * per_point.sum(dim=(1, 2))
        return (per_row * rows).mean()
