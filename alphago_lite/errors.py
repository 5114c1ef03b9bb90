"""Errors a user can fix, as opposed to bugs.

``UserError`` marks an error whose message is written for the person at the keyboard: it names what is
wrong (a config key, a file, a checkpoint, an option) and, where it helps, what to do instead. The
console script prints such an error as one ``error: ...`` line without a traceback; anything else is a
bug and keeps its traceback. The project's domain errors that come from input (``ConfigError``,
``CheckpointError``, ``SgfError``, ``AgentNotFound``) subclass it; a command raises ``UserError``
itself for an impossible request. It is a ``ValueError``, so code that catches bad values catches it.

This module imports nothing: the console script reads it before it knows which command runs.
"""
from __future__ import annotations


class UserError(ValueError):
    """Something the user asked for or gave cannot be used; the message says what and why."""
