"""Which models the server may load: run folders and weight files named when it started, the
checkpoints its ``--results`` folders name inside themselves, and the released weights (listed,
not loadable: they cannot be downloaded here). A request names a model by its id in this list,
never by a path, so the server reads no weight file it was not started with."""

from __future__ import annotations

import collections
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torchvision.transforms.functional import pil_to_tensor

from ..data.images import read_image
from ..train.checkpoint import checkpoint_file, load_checkpoint
from ..train.predict import predict_images
from ..weights.pretrained import detect_format

# Loaded networks kept in memory at once: the least recently used one goes first.
CACHED_MODELS = 4


@dataclass(frozen=True)
class ModelEntry:
    """One model of the list: ``id`` is what requests name it by."""

    id: str
    name: str
    kind: str
    source: str  # "checkpoint", "pretrained", "results" or "release"
    path: Path | None = None
    note: str = ""

    @property
    def loadable(self) -> bool:
        return self.path is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "source": self.source,
            "loadable": self.loadable,
            "note": self.note,
        }


def checkpoint_kind(path: str | os.PathLike[str]) -> str:
    """Which task a checkpoint (file or run folder) was trained for, from what it records."""
    about = load_checkpoint(path).get("task") or {}
    # Class names last: an embedding student records its data's classes too.
    for key, kind in (
        ("categories", "detection"),
        ("embedding_dim", "embedding"),
        ("partition", "geo"),
        ("classes", "classification"),
    ):
        if key in about:
            return kind
    raise ValueError(
        f"{path}: not a checkpoint the page can use (expected classification, detection, "
        "embedding or geolocation)"
    )


@dataclass
class Loaded:
    """A network in memory with what its kind needs: ``classify``, ``detect``, ``embed`` or
    ``locate`` of image files."""

    entry: ModelEntry
    model: nn.Module
    run: Callable[..., Any]
    extra: dict[str, Any] = field(default_factory=dict)


def _load(entry: ModelEntry) -> Loaded:
    """The network of ``entry``, through the task package that trained it."""
    path = entry.path
    if entry.source == "pretrained":
        from ..classification.predict import pretrained_classifier
        from ..weights.pretrained import model_from_weights

        return _classifier(entry, *pretrained_classifier(model_from_weights(path).eval()))
    if entry.kind == "classification":
        from ..classification.predict import classifier

        return _classifier(entry, *classifier(path))
    if entry.kind == "detection":
        from ..detection.evaluation import load
        from ..detection.predict import detect

        model, categories = load(path)

        def boxes(image: Path, score_thresh: float = 0.5) -> dict[str, Any]:
            pixels = pil_to_tensor(read_image(image, "RGB"))
            found = detect(model, categories, pixels, score_thresh=score_thresh)
            return {"width": pixels.shape[2], "height": pixels.shape[1], "detections": found}

        return Loaded(entry, model, boxes)
    if entry.kind == "embedding":
        from ..embedding.predict import embedder

        model, transform = embedder(path)

        @torch.no_grad()
        def embed(images: Sequence[Path]) -> torch.Tensor:
            return model(torch.stack([transform(read_image(image)) for image in images]))

        return Loaded(entry, model, embed)
    from ..geo.evaluation import load as load_geo
    from ..geo.predict import locate

    geo = load_geo(path)
    return Loaded(entry, geo.model, lambda images, top_k=5: locate(geo, images, top_k=top_k))


def _classifier(
    entry: ModelEntry, model: nn.Module, transform: Callable[..., Any], classes: list[str]
) -> Loaded:
    return Loaded(
        entry,
        model,
        lambda images, top_k=5: predict_images(model, transform, classes, images, top_k=top_k),
    )


class Catalog:
    """The models a server may load, in the order ``/api/models`` lists them, and the few it
    holds in memory."""

    def __init__(
        self,
        checkpoints: Sequence[str | os.PathLike[str]] = (),
        pretrained: Sequence[str | os.PathLike[str]] = (),
        *,
        releases: bool = True,
    ) -> None:
        self.entries: list[ModelEntry] = []
        for path in checkpoints:
            self.add_checkpoint(path, "checkpoint")
        for path in pretrained:
            detect_format(path)  # an unknown format is refused when the server starts
            if not Path(path).exists():
                raise ValueError(f"--pretrained {path}: no such file or folder")
            self._add(Path(path).name, "classification", "pretrained", Path(path).resolve())
        if releases:
            from ..weights.releases import list_releases

            for release in list_releases():
                self._add(
                    release.name,
                    "classification",
                    "release",
                    note="released weights: not downloadable here; give its file with --pretrained",
                )
        self._cache: collections.OrderedDict[str, Loaded] = collections.OrderedDict()
        self._lock = threading.Lock()

    def _add(
        self, name: str, kind: str, source: str, path: Path | None = None, note: str = ""
    ) -> ModelEntry:
        entry = ModelEntry(str(len(self.entries)), name, kind, source, path, note)
        self.entries.append(entry)
        return entry

    def add_checkpoint(self, path: str | os.PathLike[str], source: str) -> ModelEntry:
        """A run folder or checkpoint file (the same file once, whoever names it)."""
        resolved = checkpoint_file(path).resolve()
        for entry in self.entries:
            if entry.path == resolved:
                return entry
        name = resolved.parent.name if resolved.name in ("best.pt", "last.pt") else resolved.name
        return self._add(name, checkpoint_kind(resolved), source, resolved)

    def get(self, model_id: str | None, kind: str | None = None) -> ModelEntry:
        """The entry a request names (None: the first loadable one of ``kind``), or a ValueError
        saying which ids there are."""
        usable = [e for e in self.entries if e.loadable and (kind is None or e.kind == kind)]
        if model_id is None or model_id == "":
            if not usable:
                raise ValueError(f"no {kind or 'loadable'} model was given to the server")
            return usable[0]
        for entry in self.entries:
            if entry.id == model_id:
                if not entry.loadable:
                    raise ValueError(f"model {entry.name}: {entry.note}")
                if kind is not None and entry.kind != kind:
                    raise ValueError(f"model {entry.name} is a {entry.kind} model, not {kind}")
                return entry
        ids = ", ".join(e.id for e in usable) or "none"
        raise ValueError(f"unknown model id {model_id!r}; the loadable ids are: {ids}")

    def load(self, entry: ModelEntry) -> Loaded:
        """``entry``'s network, loaded on first use and kept while it is among the last used."""
        with self._lock:
            if entry.id in self._cache:
                self._cache.move_to_end(entry.id)
                return self._cache[entry.id]
            loaded = _load(entry)
            self._cache[entry.id] = loaded
            while len(self._cache) > CACHED_MODELS:
                self._cache.popitem(last=False)
            return loaded
