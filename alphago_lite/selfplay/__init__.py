"""Self-play: many games at once (``player``), their records (``records``), the durable shards and
sampling window (``replay``), and matches between evaluators (``arena``)."""
