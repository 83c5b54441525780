"""The seal on a sweep's Ray Tune files: Tune restores an experiment by unpickling them
(``tuner.pkl``, the experiment state's embedded cloudpickle), which runs whatever code they
hold. While a sweep runs, the digests of those files are recorded in ``OUT/tune-seal.json``
under an HMAC keyed by a secret of this user's; ``--resume`` refuses a folder whose files,
or whose record, this user's sweeps did not write. A Tune callback, so this module is imported
only when a sweep runs."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path
from typing import Any

from ..extras import require
from ..files import atomic_write_bytes, atomic_write_json, file_sha256

tune = require("ray.tune", "sweep", "mobilenets sweep")

SEAL = "tune-seal.json"
# Tune copies its state from a staging folder to OUT/tune in the background: at a kill the copy
# may still be the version before the one last recorded, so each file keeps its last two.
KEPT_VERSIONS = 2


def key_path() -> Path:
    """The secret the seals are keyed by: $XDG_CONFIG_HOME/mobilenets/sweep.key (or
    ~/.config/...), created readable by this user only on first use."""
    config = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(config) / "mobilenets" / "sweep.key"


def _key(create: bool) -> bytes | None:
    path = key_path()
    if not path.is_file() and create:
        path.parent.mkdir(parents=True, exist_ok=True)
        previous = os.umask(0o077)
        try:
            atomic_write_bytes(path, secrets.token_bytes(32), force=False)
        except FileExistsError:  # another sweep made it first
            pass
        finally:
            os.umask(previous)
    return path.read_bytes() if path.is_file() else None


def sealed_files(folder: Path) -> dict[str, Path]:
    """The files of a Tune experiment folder that restore unpickles or decodes: every file at
    its top (tuner.pkl, experiment and searcher state) and every ``*.pkl`` below (params,
    errors), by path relative to ``folder``."""
    if not folder.is_dir():
        return {}
    found = [path for path in folder.iterdir() if path.is_file()]
    found += [path for path in folder.rglob("*.pkl") if path.parent != folder and path.is_file()]
    return {path.relative_to(folder).as_posix(): path for path in found}


def _mac(key: bytes, versions: dict[str, list[str]]) -> str:
    text = json.dumps(versions, sort_keys=True).encode()
    return hmac.new(key, text, hashlib.sha256).hexdigest()


class Sealer(tune.Callback):
    """A Tune callback recording the Tune files' digests in ``out/tune-seal.json`` after each
    step of the experiment (when Tune saves its state) and at its end, whenever they changed (a
    file is hashed again only when its size or modification time changed)."""

    def __init__(self, out: str | os.PathLike[str], experiment: str) -> None:
        self.out, self.experiment = Path(out), experiment
        self.versions: dict[str, list[str]] = {}
        self.seen: dict[str, tuple[int, int]] = {}

    def on_step_end(self, iteration: int, trials: list[Any], **info: Any) -> None:
        self.update(*_staging(trials))

    def on_experiment_end(self, trials: list[Any], **info: Any) -> None:
        self.update(*_staging(trials))

    def update(self, *folders: str | os.PathLike[str]) -> None:
        """Hashes what changed in ``OUT/tune`` and in ``folders`` (Tune's staging copy of it)."""
        changed = False
        for folder in (self.out / self.experiment, *map(Path, folders)):
            for name, path in sealed_files(folder).items():
                try:
                    stat = path.stat()
                    stamp = (stat.st_size, stat.st_mtime_ns)
                    if self.seen.get(str(path)) == stamp:
                        continue
                    digest = file_sha256(path)
                except FileNotFoundError:  # replaced by Tune meanwhile: the next update sees it
                    continue
                self.seen[str(path)] = stamp
                kept = self.versions.setdefault(name, [])
                if digest not in kept:
                    kept[:] = [*kept, digest][-KEPT_VERSIONS:]
                    changed = True
        if changed:
            versions = dict(sorted(self.versions.items()))
            atomic_write_json(
                self.out / SEAL,
                {"versions": versions, "hmac": _mac(_key(create=True), versions)},
                force=True,
            )


def _staging(trials: list[Any]) -> list[str]:
    """Tune's staging copy of the experiment folder, where it writes its state first."""
    return [trials[0].storage.experiment_driver_staging_path] if trials else []


def check_seal(out: str | os.PathLike[str], experiment: str) -> None:
    """ValueError unless every file Tune would restore from ``out/experiment`` is one a sweep of
    this user's recorded there, under a valid HMAC; reads nothing but bytes."""
    out = Path(out)
    refusal = (
        f"refusing to resume {out}: its Ray Tune files ({experiment}/), which Tune unpickles, "
        f"are not ones this user's sweeps wrote ({{}}); start it again with --force"
    )
    key = _key(create=False)
    try:
        record: Any = json.loads((out / SEAL).read_text())
        versions, mac = record["versions"], record["hmac"]
    except (OSError, ValueError, TypeError, KeyError):
        raise ValueError(refusal.format(f"no valid {SEAL}")) from None
    if key is None or not isinstance(mac, str) or not hmac.compare_digest(mac, _mac(key, versions)):
        raise ValueError(refusal.format(f"{SEAL} is not signed by this user's key"))
    for name, path in sealed_files(out / experiment).items():
        if file_sha256(path) not in versions.get(name, ()):
            raise ValueError(refusal.format(f"{name} differs from the record"))
