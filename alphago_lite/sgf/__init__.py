"""SGF: text syntax (``syntax``) and games (``game``). The public API is re-exported here:
``from alphago_lite.sgf import load_sgf, parse_sgf, write_sgf, game_from_sgf, sgf_from_game``."""
from alphago_lite.sgf.game import (
    SgfGame,
    game_from_sgf,
    load_sgf,
    parse_sgf,
    parse_sgf_all,
    save_sgf,
    sgf_from_game,
    write_sgf,
)
from alphago_lite.sgf.syntax import SgfError, point_to_sgf, sgf_to_point

__all__ = ["SgfError", "SgfGame", "game_from_sgf", "load_sgf", "parse_sgf", "parse_sgf_all", "point_to_sgf", "save_sgf",
           "sgf_from_game", "sgf_to_point", "write_sgf"]
