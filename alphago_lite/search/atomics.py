"""Atomic operations on numpy array elements inside numba code (LLVM ``atomicrmw``, ``cmpxchg`` and
atomic loads and stores), for the search threads that share one tree (see kernels.py, tree.py).

``index`` is an integer for a 1-D array, or a tuple of integers (one per dimension). Every operation
is on one aligned element of an int32, int64 or float64 array; no bounds check is made.
  atomic_add(arr, index, value)        adds value, returns the element's old value (float64: ``fadd``)
  atomic_cas(arr, index, expect, new)  stores new if the element equals expect; returns the old value
                                       (so the swap happened iff the result equals expect)
  load_acquire(arr, index)             a load that later loads cannot move before: it sees every
                                       write made before the matching ``store_release``
  store_release(arr, index, value)     a store that earlier stores cannot move after (publication)
On x86 the loads and stores are plain moves; what the orderings buy there is that the compiler keeps
them in place.
"""
from __future__ import annotations

from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


def _element_pointer(context, builder, array_type, array, index_type, index):
    """Pointer to ``array[index]`` (an integer, or a tuple with one integer per dimension)."""
    if isinstance(index_type, types.BaseTuple):
        indices = [context.cast(builder, builder.extract_value(index, k), index_type[k], types.intp)
                   for k in range(len(index_type))]
    else:
        indices = [context.cast(builder, index, index_type, types.intp)]
    ary = context.make_array(array_type)(context, builder, array)
    return cgutils.get_item_pointer(context, builder, array_type, ary, indices)


def _check(array_type, index_type) -> bool:
    """Whether the arguments are an array of a supported dtype and a matching index."""
    if not isinstance(array_type, types.Array) or array_type.dtype not in (types.int32, types.int64,
                                                                           types.float64):
        return False
    if isinstance(index_type, types.BaseTuple):
        return len(index_type) == array_type.ndim and all(isinstance(t, types.Integer) for t in index_type)
    return array_type.ndim == 1 and isinstance(index_type, types.Integer)


@intrinsic
def atomic_add(typingctx, arr, index, value):
    if not _check(arr, index):
        return None
    dtype = arr.dtype

    def codegen(context, builder, signature, args):
        ptr = _element_pointer(context, builder, arr, args[0], index, args[1])
        val = context.cast(builder, args[2], signature.args[2], dtype)
        op = "fadd" if isinstance(dtype, types.Float) else "add"
        return builder.atomic_rmw(op, ptr, val, "seq_cst")

    return dtype(arr, index, value), codegen


@intrinsic
def atomic_cas(typingctx, arr, index, expect, new):
    if not _check(arr, index) or isinstance(arr.dtype, types.Float):
        return None
    dtype = arr.dtype

    def codegen(context, builder, signature, args):
        ptr = _element_pointer(context, builder, arr, args[0], index, args[1])
        cmp = context.cast(builder, args[2], signature.args[2], dtype)
        val = context.cast(builder, args[3], signature.args[3], dtype)
        pair = builder.cmpxchg(ptr, cmp, val, "seq_cst", "seq_cst")
        return builder.extract_value(pair, 0)

    return dtype(arr, index, expect, new), codegen


@intrinsic
def load_acquire(typingctx, arr, index):
    if not _check(arr, index):
        return None
    dtype = arr.dtype

    def codegen(context, builder, signature, args):
        ptr = _element_pointer(context, builder, arr, args[0], index, args[1])
        return builder.load_atomic(ptr, "acquire", context.get_abi_alignment(context.get_data_type(dtype)))

    return dtype(arr, index), codegen


@intrinsic
def store_release(typingctx, arr, index, value):
    if not _check(arr, index):
        return None
    dtype = arr.dtype

    def codegen(context, builder, signature, args):
        ptr = _element_pointer(context, builder, arr, args[0], index, args[1])
        val = context.cast(builder, args[2], signature.args[2], dtype)
        builder.store_atomic(val, ptr, "release", context.get_abi_alignment(context.get_data_type(dtype)))
        return context.get_dummy_value()

    return types.none(arr, index, value), codegen
