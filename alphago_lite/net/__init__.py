"""The network side: input features and symmetries, the model, checkpoints, evaluators, request batching
and the wire format of inference requests. Import the submodules (``alphago_lite.net.model`` ...):
this package imports nothing eagerly, so that search code using ``features`` does not load torch."""
