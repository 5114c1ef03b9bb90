"""alphago_lite: learn Go by self-play. Importing the package registers the gymnasium environment."""
# A string entry point: gymnasium imports alphago_lite.env (and numba) only when the env is made.
from gymnasium.envs.registration import register as _register
from gymnasium.envs.registration import registry as _registry

if "alphago_lite/Go-v0" not in _registry:  # importlib.reload must not warn about re-registering
    _register(id="alphago_lite/Go-v0", entry_point="alphago_lite.env:GoEnv")
