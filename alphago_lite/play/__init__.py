"""Front ends for people: a game in the terminal (``terminal``) and matches between players (``match``)."""
