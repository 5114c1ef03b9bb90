"""Rules engine: ``Game`` (Python API) over compiled kernels in ``core``; coordinates in ``coords``."""
from .coords import from_gtp, from_sgf, parse_move, to_gtp, to_sgf
from .core import BLACK, EMPTY, WHITE
from .game import Game, IllegalMove, game_from_diagram, parse_colour

__all__ = ["BLACK", "WHITE", "EMPTY", "Game", "IllegalMove", "game_from_diagram", "parse_colour", "from_gtp", "to_gtp",
           "from_sgf", "to_sgf", "parse_move"]
