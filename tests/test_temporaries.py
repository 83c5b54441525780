"""Temporaries of atomic writes carry their writer's process id: a writer killed mid-write
(SIGKILL skips every clean-up) leaves one, which the next writer of the same file removes,
while another live process's temporary stays."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from mobilenets.files import atomic_write_bytes

WRITER = """
import sys, time
from mobilenets.files import atomic_output
with atomic_output(sys.argv[1]) as temporary:
    temporary.write_bytes(b"x" * 1_000_000)
    print(temporary, flush=True)
    time.sleep(600)
"""


def _temporaries(target: Path) -> list[str]:
    return sorted(path.name for path in target.parent.glob(f".{target.name}.tmp-*"))


def test_killed_writers_temporary_goes_with_the_next_write(tmp_path) -> None:
    target = tmp_path / "model.onnx"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(target)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    temporary = Path(writer.stdout.readline().strip())
    assert temporary.name.startswith(f".model.onnx.tmp-{writer.pid}-")
    # A live process's temporary (the sleeping writer's) stays while another process writes.
    atomic_write_bytes(target, b"first")
    assert _temporaries(target) == [temporary.name]
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    writer.stdout.close()
    legacy = tmp_path / ".model.onnx.tmp-abc123.onnx"  # named by a version without the pid
    legacy.write_bytes(b"old")
    atomic_write_bytes(target, b"second")
    assert _temporaries(target) == [] and target.read_bytes() == b"second"


def test_a_running_writer_keeps_its_temporary(tmp_path) -> None:
    target = tmp_path / "weights.pt"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        own = tmp_path / f".weights.pt.tmp-{sleeper.pid}-xyz.pt"
        own.write_bytes(b"being written")
        atomic_write_bytes(target, b"done")
        assert own.exists()
    finally:
        sleeper.kill()
        sleeper.wait()
    atomic_write_bytes(target, b"again")
    assert not own.exists()
