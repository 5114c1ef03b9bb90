"""Thin Ray adapters around the Ray-free core in ``alphago_lite`` (see docs/internals.md).

Each actor unpacks a message, calls core code and packs the result; the logic lives in the core.
"""
