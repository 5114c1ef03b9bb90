"""One training step of the policy/value net, its optimizer and learning-rate schedule (no Ray).

loss = cross_entropy(policy_logits, visit_distribution) + value_loss_weight * mse(value, outcome)
with weight decay applied by the optimizer (SGD with momentum, or AdamW).
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from alphago_lite.config import LearnerConfig


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
        self.model, self.cfg, self.step = model.to(device), cfg, step
        self.device = torch.device(device)
        self.optimizer = build_optimizer(self.model, cfg)
        self.autocast = self.device.type == "cuda" and cfg.mixed_precision

    def train_step(self, planes: np.ndarray, policy: np.ndarray, value: np.ndarray) -> dict:
        """planes uint8 [B,C,S,S], policy float32 [B,A] (visit distributions), value float32 [B]."""
        self.model.train()
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate(self.cfg, self.step)
        x = torch.from_numpy(np.array(planes, np.uint8)).to(self.device, non_blocking=True).float()
        target_pi = torch.from_numpy(np.array(policy, np.float32)).to(self.device)
        target_z = torch.from_numpy(np.array(value, np.float32)).to(self.device)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            logits, v = self.model(x)[:2]
        policy_loss = -(target_pi * F.log_softmax(logits.float(), dim=1)).sum(dim=1).mean()
        value_loss = F.mse_loss(v.float(), target_z)
        loss = policy_loss + self.cfg.value_loss_weight * value_loss
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.step += 1
        return {"loss": loss.item(), "policy_loss": policy_loss.item(), "value_loss": value_loss.item(),
                "lr": learning_rate(self.cfg, self.step - 1)}
