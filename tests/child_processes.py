"""Helpers for tests that start the console script in a child process."""
import signal


def default_ctrl_c() -> None:
    """``preexec_fn``: in the child before it starts, SIGINT back to its default. A shell starts a background
    job (`bash .ci/run &`) with SIGINT ignored, its children inherit that, and Python then installs no
    Ctrl-C handler: the tests of Ctrl-C would fail for a reason that is not the program's."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
