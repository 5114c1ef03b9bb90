"""What chooses a move for a front end: the ``Agent`` protocol and simple agents (``base``), the MCTS
agent (``mcts``), and how to load one from a checkpoint (``loading``)."""
