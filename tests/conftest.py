"""Fixtures shared by the test modules."""
import pytest
import ray

from actors.cluster import local_options


@pytest.fixture(scope="module")
def ray_cluster():
    """A real local Ray cluster of 2 CPUs for one test module. ``address="local"`` always starts a new
    one: never attach to a cluster some other process left running on this machine."""
    ray.init(**local_options(num_cpus=2))
    yield
    ray.shutdown()
