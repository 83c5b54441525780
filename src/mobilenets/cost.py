"""Per-layer mult-adds and parameters of any nn.Module, counted as the paper counts them.

Mult-adds are the multiply-accumulates of convolutions (grouped and depthwise included) and
fully connected layers; parameters are every learnable parameter, batch norm included. One
forward pass with hooks on the leaf modules measures the real shapes, so any network works.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn


@dataclass(frozen=True)
class LayerCost:
    """One call of one leaf module that has parameters or mult-adds."""

    name: str
    type: str
    stride: tuple[int, ...] | None
    filter_shape: tuple[int, ...] | None
    input_size: tuple[int, ...]
    output_size: tuple[int, ...]
    mult_adds: int
    params: int

    @property
    def weights(self) -> int:
        """The filter's own weights (no bias, no batch norm), as the paper's Table 2 counts them."""
        return math.prod(self.filter_shape) if self.filter_shape else 0


@dataclass
class Cost:
    """Totals, a break-down by layer type and the per-layer rows of one forward pass."""

    mult_adds: int
    params: int
    layers: list[LayerCost] = field(default_factory=list)

    @property
    def by_type(self) -> dict[str, dict[str, int]]:
        table: dict[str, dict[str, int]] = {}
        for row in self.layers:
            entry = table.setdefault(row.type, {"mult_adds": 0, "params": 0})
            entry["mult_adds"] += row.mult_adds
            entry["params"] += row.params
        return table

    @property
    def weights(self) -> int:
        """Convolution and fully connected weights only (no biases, no batch norm)."""
        return sum(row.weights for row in self.layers)

    def to_dict(self) -> dict[str, Any]:
        return {
            "mult_adds": self.mult_adds,
            "params": self.params,
            "by_type": self.by_type,
            "layers": [asdict(row) for row in self.layers],
        }


def layer_type(module: nn.Module) -> str:
    """A name for the kind of layer as the paper's Table 2 groups them ("Conv 1x1",
    "Conv DW 3x3", "Conv 3x3", "Fully connected", "Batch norm"), or the class name."""
    if isinstance(module, nn.Conv2d):
        kernel = "x".join(map(str, module.kernel_size))
        if module.groups == 1:
            return f"Conv {kernel}"
        if module.groups == module.in_channels == module.out_channels:
            return f"Conv DW {kernel}"
        return f"Conv grouped {kernel}"
    if isinstance(module, nn.Linear):
        return "Fully connected"
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        return "Batch norm"
    return type(module).__name__


def _mult_adds(module: nn.Module, inputs: torch.Tensor, output: torch.Tensor) -> int:
    if isinstance(module, nn.modules.conv._ConvNd):
        per_output = (module.in_channels // module.groups) * math.prod(module.kernel_size)
        return per_output * output[0].numel()
    if isinstance(module, nn.Linear):
        return module.in_features * module.out_features * (output[0].numel() // module.out_features)
    return 0


# How every command states the count it prints.
PARAMETERS_COUNTED = "learnable, as the paper counts"


def parameter_count(module: nn.Module, *, recurse: bool = True) -> int:
    """The paper's parameter count: every learnable tensor (weights, biases, batch norm's scale
    and shift), frozen or not, and no buffer (batch norm's running statistics are not learned)."""
    return sum(p.numel() for p in module.parameters(recurse=recurse))


def _own_params(module: nn.Module) -> int:
    return parameter_count(module, recurse=False)


def _first_tensor(value: Any) -> torch.Tensor | None:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (list, tuple)):
        for item in value:
            found = _first_tensor(item)
            if found is not None:
                return found
    if isinstance(value, dict):
        return _first_tensor(list(value.values()))
    return None


def count_cost(
    model: nn.Module, input_size: int | tuple[int, ...] | None = None, *, example: Any = None
) -> Cost:
    """Counts one image's mult-adds and the parameters of ``model``.

    ``input_size`` is a resolution (square), (H, W), (C, H, W) or (1, C, H, W); with none
    the model's ``pretrained_cfg`` input size is used. ``example`` replaces the generated
    input for models that take something other than one image tensor (detectors).
    """
    if example is None:
        first = next(model.parameters(), None)
        device = first.device if first is not None else None
        example = torch.zeros(_input_shape(model, input_size), device=device)
    rows: list[LayerCost] = []
    names = {module: name for name, module in model.named_modules()}
    seen: set[nn.Module] = set()

    def hook(module: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
        x, y = _first_tensor(inputs), _first_tensor(output)
        mult_adds = _mult_adds(module, x, y) if x is not None and y is not None else 0
        # A module called twice costs twice, but its parameters are stored once.
        params = 0 if module in seen else _own_params(module)
        seen.add(module)
        if mult_adds == 0 and params == 0:
            return
        weight = getattr(module, "weight", None)
        counted_filter = isinstance(module, (nn.modules.conv._ConvNd, nn.Linear))
        stride = getattr(module, "stride", None)
        rows.append(
            LayerCost(
                name=names.get(module, type(module).__name__),
                type=layer_type(module),
                stride=tuple(stride) if isinstance(stride, (tuple, list)) else None,
                filter_shape=tuple(weight.shape) if counted_filter and weight is not None else None,
                input_size=tuple(x.shape[1:]) if x is not None else (),
                output_size=tuple(y.shape[1:]) if y is not None else (),
                mult_adds=mult_adds,
                params=params,
            )
        )

    leaves = [m for m in model.modules() if not list(m.children()) or _own_params(m)]
    handles = [m.register_forward_hook(hook) for m in leaves]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(example)
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)

    # Parameters that no forward call touched (an unused auxiliary head) still count as size.
    total_params = parameter_count(model)
    return Cost(mult_adds=sum(row.mult_adds for row in rows), params=total_params, layers=rows)


def _input_shape(model: nn.Module, input_size: int | tuple[int, ...] | None) -> tuple[int, ...]:
    cfg = getattr(model, "pretrained_cfg", None) or {}
    channels = cfg.get("input_size", (3,))[0]
    if input_size is None:
        if "input_size" not in cfg:
            raise ValueError(
                "input_size is needed for a model without pretrained_cfg['input_size']"
            )
        input_size = tuple(cfg["input_size"])
    if isinstance(input_size, int):
        input_size = (input_size, input_size)
    input_size = tuple(int(s) for s in input_size)
    if len(input_size) == 2:
        return (1, channels, *input_size)
    if len(input_size) == 3:
        return (1, *input_size)
    if len(input_size) == 4 and input_size[0] == 1:
        return input_size
    raise ValueError(f"input_size must be R, (H, W), (C, H, W) or (1, C, H, W); got {input_size!r}")
