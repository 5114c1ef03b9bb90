"""The compact inference wire format round-trips exactly and rejects malformed requests."""

import pickle

import numpy as np
import pytest

from alphago_lite.net.wire import WIRE_VERSION, WireError, decode_request, encode_request


@pytest.mark.parametrize("batch,planes,size", [(1, 1, 1), (3, 17, 9), (5, 7, 13), (2, 3, 19), (0, 17, 9)])
def test_decode_inverts_encode(batch, planes, size):
    rng = np.random.default_rng(batch * 100 + size)
    x = rng.integers(0, 2, size=(batch, planes, size, size), dtype=np.uint8)
    legal = rng.random((batch, size * size + 1)) < 0.5
    request = encode_request(x, legal)
    x2, legal2 = decode_request(pickle.loads(pickle.dumps(request)))
    assert x2.dtype == np.uint8 and legal2.dtype == np.bool_
    assert np.array_equal(x2, x) and np.array_equal(legal2, legal)


def test_packed_request_is_compact():
    x = np.ones((256, 17, 9, 9), dtype=np.uint8)
    legal = np.ones((256, 82), dtype=bool)
    request = encode_request(x, legal)
    assert request.version == WIRE_VERSION
    assert request.plane_bits.nbytes == 256 * 17 * 81 // 8
    assert len(pickle.dumps(request, protocol=5)) < x.nbytes / 7


def test_bad_requests():
    legal = np.ones((1, 10), dtype=bool)
    with pytest.raises(WireError, match="only 0 and 1"):
        encode_request(np.full((1, 2, 3, 3), 2, dtype=np.uint8), legal)
    with pytest.raises(WireError, match="uint8 or bool"):
        encode_request(np.zeros((1, 2, 3, 3), dtype=np.float32), legal)
    with pytest.raises(WireError, match=r"legal must be bool \[1, 10\]"):
        encode_request(np.zeros((1, 2, 3, 3), dtype=np.uint8), np.ones((1, 9), dtype=bool))
    request = encode_request(np.zeros((1, 2, 3, 3), dtype=np.uint8), legal)
    with pytest.raises(WireError, match="wire version 99"):
        decode_request(request._replace(version=99))
    with pytest.raises(WireError, match="do not match"):
        decode_request(request._replace(batch=2))
