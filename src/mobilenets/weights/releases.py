"""Every released MobileNet v1 weight set this package can load, one record each (as
torchvision's ``Weights`` enums): where the files live, the architecture and preprocessing they
need, their classes, licence and published accuracy with its source.

The registry registers the models the records need, ``create_model(name, pretrained=True)``
picks the best record for a name, downloads read the records' addresses, and ``select``,
``eval`` and ``mobilenets list --weights`` read their accuracies. Published figures were copied
from the sources named in ``accuracy_source``; none was re-measured here (no ImageNet).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..extras import installed

# What each format's files need to be read (the extra that installs it).
FORMAT_NEEDS = {
    "keras": ("h5py",),
    "timm": ("safetensors", "huggingface_hub"),
    "tf-slim": (),
    "tflite": ("ai_edge_litert",),
}
FORMAT_EXTRA = {"keras": "weights", "timm": "hub", "tflite": "litert"}
KERAS_BASE_URL = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet/"
KERAS_RESOLUTIONS = (224, 192, 160, 128)
_KERAS_WIDTH_TAGS = {1.0: "1_0", 0.75: "7_5", 0.5: "5_0", 0.25: "2_5"}
_SLIM_WIDTH_TAGS = {1.0: "1.0", 0.75: "0.75", 0.5: "0.5", 0.25: "0.25"}
# The archives of TF-slim's mobilenet_v1.md; they now answer 403 (and are .tgz, which this
# package does not unpack): kept as provenance, loadable once unpacked by hand.
SLIM_BASE_URL = "http://download.tensorflow.org/models/mobilenet_v1_2018_02_22/"
SLIM_TABLE = "TF-slim research/slim/nets/mobilenet_v1.md (tensorflow/models), single centre crop"
SLIM_QUANT_TABLE = f"{SLIM_TABLE}, its _quant rows (tensorflow/models @ 02c04f49)"
TIMM_RESULTS = "timm results/results-imagenet.csv (huggingface/pytorch-image-models @ aa4b5850)"
GOOGLE_ARCHITECTURE = MappingProxyType(dict(padding="tf_same", activation="relu6", bn_eps=1e-3))
TIMM_ARCHITECTURE = MappingProxyType(dict(padding="symmetric", activation="relu6", bn_eps=1e-5))
# Google's weights take [-1, 1] inputs, resized to resolution / 0.875 and centre-cropped.
_GOOGLE_INPUTS = dict(interpolation="bilinear", crop_pct=0.875, mean=(0.5,) * 3, std=(0.5,) * 3)

# TF-slim's table: alpha -> resolution -> (top-1 %, top-5 %).
_SLIM_ACCURACY = {
    1.0: {224: (70.9, 89.9), 192: (70.0, 89.2), 160: (68.0, 87.7), 128: (65.2, 85.8)},
    0.75: {224: (68.4, 88.2), 192: (67.2, 87.3), 160: (65.3, 86.0), 128: (62.1, 83.9)},
    0.5: {224: (63.3, 84.9), 192: (61.7, 83.6), 160: (59.1, 81.9), 128: (56.3, 79.4)},
    0.25: {224: (49.8, 74.2), 192: (47.7, 72.3), 160: (45.5, 70.3), 128: (41.5, 66.3)},
}

# The same table's quantization-aware (uint8 TFLite) files: alpha -> resolution -> (top-1, top-5).
_SLIM_QUANT_ACCURACY = {
    1.0: {224: (69.7, 89.5), 192: (69.0, 88.9), 160: (67.3, 87.7), 128: (64.0, 85.5)},
    0.75: {224: (67.9, 88.1), 192: (66.2, 87.1), 160: (63.9, 85.5), 128: (59.8, 82.8)},
    0.5: {224: (62.2, 84.5), 192: (60.4, 83.2), 160: (57.7, 81.3), 128: (54.9, 78.9)},
    0.25: {224: (48.2, 73.8), 192: (45.8, 71.9), 160: (43.5, 69.1), 128: (39.9, 65.8)},
}
# TF Hub / Kaggle Models name a file MODEL_VERSION_VARIATION_VERSION: mobilenet_v1_0.25_224_1_default_1.
_HUB_FILE_SUFFIX = re.compile(r"_\d+_(?:default|metadata)_\d+$")
_TFLITE_NOTES = (
    "the archive (with its .tflite) answers 403 now; the same files ship with TF Hub / Kaggle "
    "Models and the TFLite and Coral example apps: give the .tflite path"
)


@dataclass(frozen=True)
class Release:
    """One released weight set. ``model`` is the registry name it loads into and ``model_args``
    what that name stands for; ``architecture`` the further MobileNetV1 arguments the weights
    fix; ``pretrained_cfg`` the evaluation preprocessing (timm's keys); ``labels`` and
    ``label_offset`` the outputs' classes; ``urls`` the files (a Keras release: with and without
    classifier); ``hub_repo`` / ``hub_file`` its Hugging Face Hub address; ``top1`` / ``top5``
    the published ImageNet accuracy (%) and ``accuracy_source`` where it is printed."""

    name: str
    model: str
    model_args: Mapping[str, Any]
    format: str
    source: str
    license: str
    architecture: Mapping[str, Any]
    pretrained_cfg: Mapping[str, Any]
    num_classes: int = 1000
    label_offset: int = 0
    labels: str = "ImageNet-1k: the 1000 synsets in sorted order (n01440764 first)"
    urls: tuple[str, ...] = ()
    hub_repo: str | None = None
    hub_file: str | None = None
    sha256: str | None = None
    top1: float | None = None
    top5: float | None = None
    accuracy_source: str = ""
    downloadable: bool = True
    notes: str = ""

    @property
    def available(self) -> bool:
        """Whether the packages that read this release's files are installed."""
        return self.downloadable and all(installed(module) for module in FORMAT_NEEDS[self.format])

    def describe(self) -> str:
        """One line of provenance: name, source, licence and published accuracy."""
        accuracy = (
            f"ImageNet top-1 {self.top1}%" if self.top1 is not None else "no published accuracy"
        )
        return f"{self.name} ({self.source}, {self.license}, {accuracy})"

    def to_dict(self) -> dict[str, Any]:
        """The record as plain JSON-ready data; ``default``: what ``pretrained=True`` loads here."""
        row = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        row.update(
            model_args=dict(self.model_args),
            architecture=dict(self.architecture),
            pretrained_cfg=dict(self.pretrained_cfg),
            available=self.available,
            default=self.downloadable and best_release(self.model_args) is self,
        )
        return row


def keras_weights_url(alpha: float, resolution: int, include_top: bool = True) -> str:
    """The public address of Keras's released MobileNet v1 weights for one width and resolution."""
    if alpha not in _KERAS_WIDTH_TAGS or resolution not in KERAS_RESOLUTIONS:
        raise ValueError(
            f"Keras released MobileNet v1 weights for alpha {', '.join(map(str, _KERAS_WIDTH_TAGS))} at "
            f"{', '.join(map(str, KERAS_RESOLUTIONS))} px; got alpha {alpha} at {resolution} px"
        )
    suffix = "" if include_top else "_no_top"
    return f"{KERAS_BASE_URL}mobilenet_{_KERAS_WIDTH_TAGS[alpha]}_{resolution}_tf{suffix}.h5"


def _google_releases() -> list[Release]:
    releases = []
    for alpha, rows in _SLIM_ACCURACY.items():
        for resolution, (top1, top5) in rows.items():
            common = dict(
                model=f"mobilenet_v1_{round(alpha * 100):03d}_{resolution}",
                model_args=MappingProxyType(dict(alpha=alpha, resolution=resolution)),
                license="Apache-2.0",
                architecture=GOOGLE_ARCHITECTURE,
                top1=top1,
                top5=top5,
                pretrained_cfg=MappingProxyType(
                    dict(input_size=(3, resolution, resolution), **_GOOGLE_INPUTS)
                ),
            )
            keras_stem = Path(keras_weights_url(alpha, resolution)).stem
            releases.append(
                Release(
                    name=f"keras:{keras_stem}",
                    format="keras",
                    source="Keras applications (Google Cloud Storage)",
                    urls=(
                        keras_weights_url(alpha, resolution),
                        keras_weights_url(alpha, resolution, include_top=False),
                    ),
                    accuracy_source=f"{SLIM_TABLE}; the Keras files are those checkpoints translated",
                    **common,
                )
            )
            slim_stem = f"mobilenet_v1_{_SLIM_WIDTH_TAGS[alpha]}_{resolution}"
            releases.append(
                Release(
                    name=f"tf-slim:{slim_stem}",
                    format="tf-slim",
                    source="TF-slim (download.tensorflow.org)",
                    urls=(f"{SLIM_BASE_URL}{slim_stem}.tgz",),
                    num_classes=1001,
                    label_offset=1,
                    labels="background, then ImageNet-1k's 1000 synsets in sorted order",
                    accuracy_source=SLIM_TABLE,
                    downloadable=False,
                    notes="the archive answers 403 now; unpack a copy and give PREFIX (PREFIX.index beside it)",
                    **common,
                )
            )
            releases += _tflite_releases(alpha, resolution, slim_stem, common)
    return releases


def _tflite_releases(
    alpha: float, resolution: int, slim_stem: str, common: dict[str, Any]
) -> list[Release]:
    """The .tflite files of TF-slim's float and quantization-aware archives (1001 classes)."""
    top1, top5 = _SLIM_QUANT_ACCURACY[alpha][resolution]
    quant = {**common, "top1": top1, "top5": top5}
    return [
        Release(
            name=f"tflite:{stem}",
            format="tflite",
            source=f"TF-slim {what} .tflite (download.tensorflow.org, TF Hub)",
            urls=(f"{SLIM_BASE_URL}{stem}.tgz",),
            num_classes=1001,
            label_offset=1,
            labels="background, then ImageNet-1k's 1000 synsets in sorted order",
            accuracy_source=source,
            downloadable=False,
            notes=_TFLITE_NOTES,
            **fields,
        )
        for stem, what, source, fields in (
            (slim_stem, "float", SLIM_TABLE, common),
            (f"{slim_stem}_quant", "uint8 quantization-aware", SLIM_QUANT_TABLE, quant),
        )
    ]


def _timm_release(
    tag: str,
    model: str,
    model_args: dict[str, Any],
    top1: float,
    top5: float,
    crop_pct: float,
    test: str,
) -> Release:
    return Release(
        name=f"timm:{tag}",
        model=model,
        model_args=MappingProxyType(model_args),
        format="timm",
        source="timm (Hugging Face Hub, safetensors)",
        license="Apache-2.0",
        architecture=TIMM_ARCHITECTURE,
        pretrained_cfg=MappingProxyType(
            dict(
                input_size=(3, 224, 224),
                interpolation="bicubic",
                crop_pct=crop_pct,
                mean=(0.5,) * 3,
                std=(0.5,) * 3,
            )
        ),
        urls=(f"https://huggingface.co/timm/{tag}/resolve/main/model.safetensors",),
        hub_repo=f"timm/{tag}",
        hub_file="model.safetensors",
        top1=top1,
        top5=top5,
        accuracy_source=f"{TIMM_RESULTS}, 224 px",
        notes=f"timm also lists {test}",
    )


# timm's pretrained_cfg (timm/models/efficientnet.py, timm 1.0.31): 224 px, bicubic, mean = std
# = 0.5; the results CSV's 224 px rows use the same crop.
TIMM_RELEASES = (
    _timm_release(
        "mobilenetv1_100.ra4_e3600_r224_in1k",
        "mobilenet_v1_100_224",
        dict(alpha=1.0, resolution=224),
        75.388,
        92.310,
        0.875,
        "top-1 76.088 at 256 px, crop 0.95",
    ),
    _timm_release(
        "mobilenetv1_125.ra4_e3600_r224_in1k",
        "mobilenet_v1_125_224",
        dict(alpha=1.25, resolution=224),
        76.920,
        93.232,
        0.9,
        "top-1 77.612 at 256 px, crop 1.0",
    ),
    _timm_release(
        "mobilenetv1_100h.ra4_e3600_r224_in1k",
        "mobilenet_v1_100h_224",
        dict(alpha=1.0, resolution=224, head_features=1024),
        75.664,
        92.522,
        0.875,
        "top-1 76.598 at 256 px, crop 0.95",
    ),
)
RELEASES: tuple[Release, ...] = (*_google_releases(), *TIMM_RELEASES)
_BY_NAME = {release.name: release for release in RELEASES}
SOURCE_FORMATS = tuple(FORMAT_NEEDS)


def list_releases(model: str | None = None) -> list[Release]:
    """The records, all or those that load into the registry name ``model``."""
    return [release for release in RELEASES if model is None or release.model == model]


def get_release(name: str) -> Release:
    """The record called ``name`` (``timm:mobilenetv1_100.ra4_e3600_r224_in1k``,
    ``keras:mobilenet_1_0_224_tf``, ``tf-slim:mobilenet_v1_1.0_224``)."""
    if name in _BY_NAME:
        return _BY_NAME[name]
    kind = name.split(":", 1)[0]
    close = [other for other in _BY_NAME if other.startswith(f"{kind}:")][:4] or list(_BY_NAME)[:4]
    raise ValueError(
        f"no released weights called {name!r} (e.g. {', '.join(close)}; see `mobilenets list --weights`)"
    )


def is_release_name(source: object) -> bool:
    """Whether ``source`` reads as a record name (``FORMAT:NAME``) rather than a path or URL."""
    return isinstance(source, str) and source.split(":", 1)[0] in SOURCE_FORMATS and ":" in source


def _fits(release: Release, model_args: Mapping[str, Any]) -> bool:
    wanted = {"head_features": 0, **release.model_args}
    return all(
        model_args.get(key, 0 if key == "head_features" else None) == value
        for key, value in wanted.items()
    )


def release_of(model_args: Mapping[str, Any], format: str) -> Release:
    """The record of ``format`` (keras, timm, tf-slim) for a model's arguments (alpha,
    resolution, head_features)."""
    found = [
        release for release in RELEASES if release.format == format and _fits(release, model_args)
    ]
    if not found:
        names = sorted({release.model for release in RELEASES if release.format == format})
        raise ValueError(
            f"no {format} weights for alpha {model_args.get('alpha')} at {model_args.get('resolution')} px; "
            f"{format} released weights for {', '.join(names)}"
        )
    return found[0]


def best_release(model_args: Mapping[str, Any]) -> Release:
    """The most accurate downloadable record for a model's arguments (alpha, resolution,
    head_features) whose reading packages are installed (else the most accurate downloadable
    one, whose loading names the extra to install)."""
    candidates = [
        release for release in RELEASES if release.downloadable and _fits(release, model_args)
    ]
    if not candidates:
        raise ValueError(
            f"no released weights for alpha {model_args.get('alpha')} at {model_args.get('resolution')} px "
            "(see `mobilenets list --weights`)"
        )
    usable = [release for release in candidates if release.available] or candidates
    return max(usable, key=lambda release: release.top1 or 0.0)


def release_for_file(path: str) -> Release | None:
    """The record a released file's own name identifies (``mobilenet_1_0_224_tf_no_top.h5``,
    ``mobilenet_v1_1.0_224.ckpt``, ``mobilenet_v1_0.25_224_quant.tflite``), or None."""
    name = Path(str(path).split("#", 1)[0]).name
    if name.endswith((".h5", ".hdf5")):
        return _BY_NAME.get(f"keras:{Path(name).stem.removesuffix('_no_top')}")
    if ".ckpt" in name:
        return _BY_NAME.get(f"tf-slim:{name.split('.ckpt', 1)[0]}")
    if name.endswith(".tflite"):
        return _BY_NAME.get(f"tflite:{_HUB_FILE_SUFFIX.sub('', Path(name).stem)}")
    return None


def most_accurate(model: str) -> Release | None:
    """The downloadable record for a registry name with the best published ImageNet top-1."""
    scored = [
        release
        for release in list_releases(model)
        if release.downloadable and release.top1 is not None
    ]
    return max(scored, key=lambda release: release.top1) if scored else None
