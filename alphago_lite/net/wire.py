"""Compact wire format for inference requests and responses between processes.

A request is a batch of B positions: planes uint8 [B, C, S, S] holding only 0/1 and a legal-move
mask bool [B, S*S+1]. Both are bit-packed with ``np.packbits`` (8x smaller than uint8, 32x smaller
than float32) into a ``PackedRequest``: a NamedTuple of ints and two flat uint8 arrays, which
pickles as one small tuple plus two buffers (no Python object per position).

A response is ``InferenceResponse(policy float32 [B, S*S+1], value float32 [B], weights_version)``;
the weights version says which network answered the whole batch.

``WIRE_VERSION`` is carried in every request; a decoder refuses any other version.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

WIRE_VERSION = 1


class WireError(ValueError):
    """A request that cannot be encoded or decoded (wrong dtype, shape, values or version)."""


class PackedRequest(NamedTuple):
    version: int
    batch: int  # B
    planes: int  # C
    size: int  # S
    plane_bits: np.ndarray  # uint8 [ceil(B*C*S*S / 8)]
    legal_bits: np.ndarray  # uint8 [ceil(B*(S*S+1) / 8)]


class InferenceResponse(NamedTuple):
    policy: np.ndarray  # float32 [B, S*S+1]
    value: np.ndarray  # float32 [B]
    weights_version: int


def encode_request(planes: np.ndarray, legal: np.ndarray) -> PackedRequest:
    """Pack planes (uint8 or bool, values 0/1) [B, C, S, S] and legal bool [B, S*S+1]."""
    planes = np.asarray(planes)
    legal = np.asarray(legal)
    if planes.ndim != 4 or planes.shape[2] != planes.shape[3]:
        raise WireError(f"planes must have shape [B, C, S, S], got {planes.shape}")
    if planes.dtype not in (np.uint8, np.bool_):
        raise WireError(f"planes must be uint8 or bool, got {planes.dtype}")
    if planes.dtype == np.uint8 and planes.size and planes.max() > 1:
        raise WireError("planes must hold only 0 and 1 (they are bit-packed)")
    batch, num_planes, size, _ = planes.shape
    if legal.dtype != np.bool_ or legal.shape != (batch, size * size + 1):
        raise WireError(f"legal must be bool [{batch}, {size * size + 1}], got {legal.dtype} {legal.shape}")
    return PackedRequest(WIRE_VERSION, batch, num_planes, size, np.packbits(planes, axis=None),
                         np.packbits(legal, axis=None))


def decode_request(request: PackedRequest) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of ``encode_request``: returns (planes uint8 [B, C, S, S], legal bool [B, S*S+1])."""
    if not isinstance(request, tuple) or len(request) != len(PackedRequest._fields):
        raise WireError(f"not a PackedRequest: {type(request).__name__}")
    version, batch, num_planes, size, plane_bits, legal_bits = request
    if version != WIRE_VERSION:
        raise WireError(f"wire version {version!r} is not supported (this code speaks {WIRE_VERSION})")
    plane_count = batch * num_planes * size * size
    legal_count = batch * (size * size + 1)
    if plane_bits.size != (plane_count + 7) // 8 or legal_bits.size != (legal_count + 7) // 8:
        raise WireError(f"packed buffers do not match the declared shape B={batch} C={num_planes} S={size}")
    planes = np.unpackbits(plane_bits, count=plane_count).reshape(batch, num_planes, size, size)
    legal = np.unpackbits(legal_bits, count=legal_count).view(np.bool_).reshape(batch, size * size + 1)
    return planes, legal
