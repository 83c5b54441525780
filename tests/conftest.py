import getpass
import os
import tempfile

import pytest
import torch

# Inductor's cache does not tell a kernel built under one ATEN_CPU_CAPABILITY from another's: one
# cached by a native run crashed a run capped at avx2 (SystemError "tuple args required"). Runs
# under a cap get a cache of their own (subprocesses inherit it).
_capped = [os.environ.get(name) for name in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA")]
if any(_capped):
    os.environ.setdefault(
        "TORCHINDUCTOR_CACHE_DIR",
        os.path.join(
            tempfile.gettempdir(),
            f"torchinductor_{getpass.getuser()}_" + "_".join(value or "-" for value in _capped),
        ),
    )


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


@pytest.fixture(scope="session")
def tiny_fashion_checkpoint(tmp_path_factory):
    """A 0.25 MobileNet at 32 px trained for one epoch on 8,000 real Fashion-MNIST images (about
    72% top-1, 20 s on one thread): int8 agreement with float only means something on a model
    that has learned; shared by the deploy tests that need one."""
    from mobilenets.classification import fit
    from mobilenets.train.config import TrainConfig

    run = tmp_path_factory.mktemp("tiny_fashion")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        fit(
            TrainConfig(
                out=str(run),
                data="fashion-mnist",
                alpha=0.25,
                resolution=32,
                epochs=1,
                batch_size=64,
                optimizer="sgd",
                lr=0.1,
                schedule="cosine",
                limit_train=8000,
                limit_val=500,
                augment=False,
                cache=True,
                seed=0,
                device="cpu",
                workers=0,
            ),
            progress=False,
        )
    finally:
        torch.set_num_threads(threads)
    return run / "best.pt"
