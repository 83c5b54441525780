"""NetAdapt's per-layer latency table: each body layer (and the classifier) of a MobileNet timed
alone, at given input and output widths, in one runtime on this machine, and a whole network's
latency predicted as the sum of its layers.

Entries are measured on demand through ``deploy.select.measure_latencies``, so they share its
cache (by CPU, its flags, threads, package versions and runtime) and its handling of a busy
machine. Every call of a runtime costs a fixed overhead (feeding an input, reading an output)
that a network pays once but each timed layer pays again: the table times that overhead alone
(a single ReLU on the network's input) and counts it once in a prediction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import nn

from ..deploy.select import measure_latencies
from ..models import MobileNetV1, body_spec

# The settings that shape a layer's work besides its widths (alpha and dropout do not).
SHAPE_KEYS = (
    "resolution",
    "in_channels",
    "num_classes",
    "variant",
    "activation",
    "padding",
    "output_stride",
    "head_features",
)
OVERHEAD = "call overhead"


class LayerProbe(nn.Module):
    """Some of a network's modules run on their own, with the input size the latency runner
    and cost counter read from ``pretrained_cfg``."""

    def __init__(self, body: nn.Module, input_size: tuple[int, ...]) -> None:
        super().__init__()
        self.body = body
        self.pretrained_cfg = {"input_size": tuple(input_size)}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def layer_groups(model: MobileNetV1) -> list[list[str]]:
    """The ``features`` module names of each body layer, in order: ``[Conv2d_0]``,
    ``[Conv2d_1_depthwise, Conv2d_1_pointwise]``, ..."""
    names = model.endpoint_names
    return [
        [name for name in names if name == base or name.startswith(base + "_")]
        for base in (f"Conv2d_{spec.index}" for spec in body_spec(model.variant))
    ]


class LatencyTable:
    """Milliseconds of each layer of networks shaped like ``architecture`` (a MobileNetV1
    config) in ``runtime`` with ``threads`` threads; ``predict(channels)`` sums them."""

    def __init__(
        self,
        architecture: dict[str, Any],
        runtime: str,
        threads: int,
        *,
        runs: int = 10,
        accept_contention: bool = False,
    ) -> None:
        self.architecture = {key: architecture[key] for key in SHAPE_KEYS if key in architecture}
        self.architecture.update(
            {key: architecture[key] for key in ("bn_eps", "min_depth") if key in architecture}
        )
        self.runtime, self.threads, self.runs = runtime, threads, runs
        self.accept_contention = accept_contention
        self.layers = len(body_spec(self.architecture.get("variant", "separable")))
        self.tag = json.dumps(
            {key: self.architecture[key] for key in SHAPE_KEYS if key in self.architecture},
            sort_keys=True,
            separators=(",", ":"),
        )
        self.milliseconds: dict[str, float] = {}
        self._input_sizes = self._layer_input_sizes()

    def _layer_input_sizes(self) -> list[tuple[int, int, int]]:
        """The (C, H, W) input of each body layer and of the classifier; C is filled per entry."""
        model = MobileNetV1(**self.architecture, channels=[1] * self.layers).eval()
        size = self.architecture.get("resolution", 224)
        x = torch.zeros(1, model.config["in_channels"], size, size)
        sizes = []
        with torch.no_grad():
            for group in layer_groups(model):
                sizes.append(tuple(x.shape[1:]))
                for name in group:
                    x = getattr(model.features, name)(x)
        return [*sizes, tuple(x.shape[1:])]

    def entry_name(self, layer: int, width_in: int, width_out: int) -> str:
        """The cache name of layer ``layer`` (the classifier: the body's length) at these widths."""
        return f"adapt layer {layer} {width_in}->{width_out} | {self.tag}"

    def entry_names(self, channels: Sequence[int]) -> list[str]:
        """The table entries a network of these widths is predicted from."""
        inputs = [self.architecture.get("in_channels", 3), *channels]
        outputs = [*channels, self.architecture.get("num_classes", 1000)]
        keys = [
            self.entry_name(layer, inputs[layer], outputs[layer]) for layer in range(len(outputs))
        ]
        return [self.overhead_name(), *keys]

    def overhead_name(self) -> str:
        """The cache name of the runtime's call overhead on this network's input."""
        return f"{OVERHEAD} | {self.tag}"

    def _build(self, name: str) -> nn.Module:
        """The module an entry name stands for, with random weights (latency needs no training)."""
        head, _ = name.split(" | ", 1)
        shape = self._input_sizes[0]
        if head == OVERHEAD:
            return LayerProbe(nn.ReLU(), shape).eval()
        layer, widths = head.removeprefix("adapt layer ").split(" ")
        width_in, width_out = (int(width) for width in widths.split("->"))
        index = int(layer)
        channels = [1] * self.layers
        if index > 0:
            channels[index - 1] = width_in
        if index < self.layers:
            channels[index] = width_out
        model = MobileNetV1(**self.architecture, channels=channels).eval()
        size = (width_in, *self._input_sizes[index][1:])
        if index == self.layers:
            body = nn.Sequential(model.head, model.global_pool, model.classifier)
        else:
            body = nn.Sequential(
                *(getattr(model.features, name) for name in layer_groups(model)[index])
            )
        return LayerProbe(body, size).eval()

    def measure(self, networks: Iterable[Sequence[int]]) -> None:
        """Times every entry these networks need that the table (or the cache) lacks."""
        names = {
            name
            for channels in networks
            for name in self.entry_names(channels)
            if name not in self.milliseconds
        }
        if names:
            measured, _ = measure_latencies(
                sorted(names),
                self.runtime,
                self.threads,
                runs=self.runs,
                accept_contention=self.accept_contention,
                build=self._build,
            )
            self.milliseconds.update(measured)

    def predict(self, channels: Sequence[int]) -> float:
        """The predicted milliseconds of a network with these widths: the call overhead once,
        plus each layer's time less the overhead its own timing included."""
        self.measure([channels])
        overhead, *layers = (self.milliseconds[name] for name in self.entry_names(channels))
        return overhead + sum(max(layer - overhead, 0.0) for layer in layers)
