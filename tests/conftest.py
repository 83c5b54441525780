import pytest
import torch


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for the module: these tests check equality, not speed, and on a shared
    2-core machine two OpenMP threads per process fight the other processes (ten times slower,
    measured)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
