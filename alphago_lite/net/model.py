"""The policy/value network: an AlphaGo Zero-shaped residual tower with two (or three) heads.

Vocabulary
----------
S                board size; the board has ``S*S`` points and ``A = S*S + 1`` moves (last = pass).
C_in             number of input planes (``in_planes``), fixed by the feature set.
blocks x channels  the tower: ``blocks`` residual blocks of ``channels`` 3x3 filters ("6x64").
policy_logits    float [B, A], unnormalised; mask illegal moves before the softmax (see evaluator.py).
value            float [B] in [-1, 1], expected outcome for the player to move.
ownership        float [B, S, S] in [-1, 1], optional auxiliary head: who owns each point at the end,
                 from the point of view of the player to move (KataGo's cheap extra training signal).
global pooling   optional KataGo-style bias: each residual block pools its features over the board
                 (mean and max) and adds a learned per-channel bias, so that whole-board facts (ko
                 fights, score) reach every point without many layers.

``forward(x)`` returns ``PolicyValue(policy_logits, value)`` -- a 2-tuple, so ``p, v = net(x)`` works
whatever the options. ``heads(x)`` also returns the ownership map for training.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import nn
from torch.nn import functional as F


class PolicyValue(NamedTuple):
    policy_logits: torch.Tensor  # [B, S*S+1]
    value: torch.Tensor  # [B], tanh-squashed


class Heads(NamedTuple):
    policy_logits: torch.Tensor  # [B, S*S+1]
    value: torch.Tensor  # [B]
    ownership: torch.Tensor | None  # [B, S, S] or None when the head is disabled


def _conv_bn(c_in: int, c_out: int, kernel: int) -> nn.Sequential:
    # The conv has no bias: the batch norm right after it supplies one.
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(c_out),
    )


class GlobalPoolingBias(nn.Module):
    """Adds ``Linear([mean, max] over the board)`` as a per-channel bias: [B, C, S, S] -> same shape."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.linear = nn.Linear(2 * channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([x.mean(dim=(2, 3)), x.amax(dim=(2, 3))], dim=1)  # [B, 2C]
        return x + self.linear(pooled)[:, :, None, None]


class ResidualBlock(nn.Module):
    """conv-BN-ReLU-(global pooling bias)-conv-BN, plus the skip connection, then ReLU."""

    def __init__(self, channels: int, global_pooling: bool) -> None:
        super().__init__()
        self.first = _conv_bn(channels, channels, 3)
        self.pool = GlobalPoolingBias(channels) if global_pooling else nn.Identity()
        self.second = _conv_bn(channels, channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pool(F.relu(self.first(x)))
        return F.relu(x + self.second(y))


class PolicyValueNet(nn.Module):
    """AlphaGo Zero residual network. Input float [B, C_in, S, S]; see the module docstring."""

    def __init__(
        self,
        board_size: int,
        in_planes: int,
        blocks: int,
        channels: int,
        value_hidden: int = 64,
        global_pooling: bool = False,
        ownership_head: bool = False,
    ) -> None:
        super().__init__()
        for name, number in (("board_size", board_size), ("in_planes", in_planes), ("channels", channels),
                             ("value_hidden", value_hidden)):
            if int(number) < 1:
                raise ValueError(f"PolicyValueNet: {name} must be >= 1, got {number}")
        if int(blocks) < 0:
            raise ValueError(f"PolicyValueNet: blocks must be >= 0, got {blocks}")
        self.board_size = int(board_size)
        self.in_planes = int(in_planes)
        self._arch = dict(board_size=self.board_size, in_planes=self.in_planes, blocks=int(blocks),
                          channels=int(channels), value_hidden=int(value_hidden),
                          global_pooling=bool(global_pooling), ownership_head=bool(ownership_head))
        points = self.board_size**2

        self.stem = _conv_bn(in_planes, channels, 3)
        self.tower = nn.Sequential(*(ResidualBlock(channels, global_pooling) for _ in range(blocks)))

        self.policy_conv = _conv_bn(channels, 2, 1)
        self.policy_fc = nn.Linear(2 * points, points + 1)

        self.value_conv = _conv_bn(channels, 1, 1)
        self.value_fc1 = nn.Linear(points, value_hidden)
        self.value_fc2 = nn.Linear(value_hidden, 1)

        self.ownership_conv = nn.Conv2d(channels, 1, 1) if ownership_head else None

    # ------------------------------------------------------------------ construction
    def arch(self) -> dict[str, Any]:
        """The constructor arguments as a plain dict: ``PolicyValueNet(**net.arch())`` rebuilds it."""
        return dict(self._arch)

    @classmethod
    def from_arch(cls, arch: dict[str, Any]) -> PolicyValueNet:
        return cls(**arch)

    # ------------------------------------------------------------------ forward
    def _trunk(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_planes or x.shape[2:] != (self.board_size, self.board_size):
            raise ValueError(
                f"PolicyValueNet expects input [B, {self.in_planes}, {self.board_size}, {self.board_size}],"
                f" got {tuple(x.shape)}")
        return self.tower(F.relu(self.stem(x)))

    def _policy_value(self, h: torch.Tensor) -> PolicyValue:
        p = F.relu(self.policy_conv(h)).flatten(1)  # [B, 2*S*S]
        v = F.relu(self.value_conv(h)).flatten(1)  # [B, S*S]
        v = torch.tanh(self.value_fc2(F.relu(self.value_fc1(v)))).squeeze(1)  # [B]
        return PolicyValue(self.policy_fc(p), v)

    def forward(self, x: torch.Tensor) -> PolicyValue:
        return self._policy_value(self._trunk(x))

    def heads(self, x: torch.Tensor) -> Heads:
        """Policy, value and (when enabled) ownership from one pass through the tower."""
        h = self._trunk(x)
        policy_logits, value = self._policy_value(h)
        ownership = None
        if self.ownership_conv is not None:
            ownership = torch.tanh(self.ownership_conv(h)).squeeze(1)  # [B, S, S]
        return Heads(policy_logits, value, ownership)


def build_model(model_cfg: Any, board_size: int, in_planes: int) -> PolicyValueNet:
    """Build the net from a ``ModelConfig``-like object (blocks, channels, value_hidden, global_pooling,
    ownership_head); ``in_planes`` comes from the feature set (``features.num_planes``)."""
    return PolicyValueNet(
        board_size=board_size,
        in_planes=in_planes,
        blocks=model_cfg.blocks,
        channels=model_cfg.channels,
        value_hidden=getattr(model_cfg, "value_hidden", 64),
        global_pooling=getattr(model_cfg, "global_pooling", False),
        ownership_head=getattr(model_cfg, "ownership_head", False),
    )
