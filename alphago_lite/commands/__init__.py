"""Subcommands of the alphago-lite console script (see cli.py)."""
