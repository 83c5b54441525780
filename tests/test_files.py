"""The run folder lock and the cache folder (mobilenets/files.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mobilenets.files import LOCK_FILE, cache_dir, folder_lock


def test_a_lock_file_that_is_a_symbolic_link_is_refused_and_its_target_kept(tmp_path) -> None:
    target = tmp_path / "precious.txt"
    target.write_text("the user's own file\n")
    run = tmp_path / "run"
    run.mkdir()
    (run / LOCK_FILE).symlink_to(target)
    with pytest.raises(ValueError, match=r"\.lock is a symbolic link; remove it"), folder_lock(run):
        pass
    assert target.read_text() == "the user's own file\n"


def test_the_lock_names_its_holder_to_every_other_process(tmp_path) -> None:
    probe = (
        "import sys\nfrom mobilenets.files import folder_lock\n"
        "try:\n    folder_lock(sys.argv[1]).__enter__()\nexcept BlockingIOError as e:\n"
        "    print(e)\n"
    )
    with folder_lock(tmp_path):
        for _ in range(2):  # a refused contender must not erase the holder's line
            refused = subprocess.run(
                [sys.executable, "-c", probe, str(tmp_path)], capture_output=True, text=True
            )
            assert f"{tmp_path} is in use by pid " in refused.stdout, refused.stderr[-2000:]
    with folder_lock(tmp_path):  # released with the block
        pass


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({"MOBILENETS_CACHE": "/own", "XDG_CACHE_HOME": "/xdg"}, Path("/own")),
        ({"MOBILENETS_CACHE": "", "XDG_CACHE_HOME": "/xdg"}, Path("/xdg/mobilenets")),
        ({}, Path.home() / ".cache" / "mobilenets"),
    ],
)
def test_the_cache_folder_follows_the_environment(environment, expected, monkeypatch) -> None:
    for variable in ("MOBILENETS_CACHE", "XDG_CACHE_HOME"):
        monkeypatch.delenv(variable, raising=False)
    for variable, value in environment.items():
        monkeypatch.setenv(variable, value)
    assert cache_dir() == expected
