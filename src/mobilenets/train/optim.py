"""Optimizers: RMSprop with TensorFlow's semantics (the paper's), SGD with Nesterov, AdamW.

The paper trained with TensorFlow's RMSprop, which differs from ``torch.optim.RMSprop`` in three
ways that change the trajectory: the mean square starts at one (not zero), epsilon sits inside
the square root, and the learning rate is folded into the momentum buffer (so a learning-rate
change only takes effect gradually through the momentum).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

OPTIMIZERS = ("rmsprop", "sgd", "adamw")

# TF-slim's train_image_classifier.py defaults for --optimizer=rmsprop, the recipe the
# MobileNet release used: --rmsprop_decay 0.9, --rmsprop_momentum 0.9, --opt_epsilon 1.0.
RMSPROP_DEFAULTS = {"rho": 0.9, "momentum": 0.9, "eps": 1.0}


class RMSpropTF(torch.optim.Optimizer):
    """RMSprop as ``tf.compat.v1.train.RMSPropOptimizer`` computes it.

    Per parameter, with ``g = grad + weight_decay * p`` (weight decay as an L2 term added to the
    gradient, like a TF ``l2_regularizer`` whose loss is ``wd * sum(p**2) / 2``)::

        ms  = rho * ms + (1 - rho) * g**2            # ms starts at 1
        mom = momentum * mom + lr * g / sqrt(ms + eps)
        p  -= mom
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
        lr: float = 0.045,
        rho: float = RMSPROP_DEFAULTS["rho"],
        momentum: float = RMSPROP_DEFAULTS["momentum"],
        eps: float = RMSPROP_DEFAULTS["eps"],
        weight_decay: float = 0.0,
    ) -> None:
        _check_hyper("lr", lr, positive=True)
        _check_hyper("eps", eps, positive=True)
        _check_hyper("weight_decay", weight_decay)
        if not 0.0 <= rho < 1.0:
            raise ValueError(f"rho must be in [0, 1), got {rho}")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        super().__init__(
            params,
            {"lr": lr, "rho": rho, "momentum": momentum, "eps": eps, "weight_decay": weight_decay},
        )

    @torch.no_grad()
    def step(self, closure=None):  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            for p in params:
                if p.grad.is_sparse:
                    raise RuntimeError("RMSpropTF does not support sparse gradients")
                state = self.state[p]
                if not state:
                    state["mean_square"] = torch.ones_like(p, memory_format=torch.preserve_format)
                    state["momentum_buffer"] = torch.zeros_like(
                        p, memory_format=torch.preserve_format
                    )
            grads = [p.grad for p in params]
            if group["weight_decay"]:
                grads = torch._foreach_add(grads, params, alpha=group["weight_decay"])
            mean_squares = [self.state[p]["mean_square"] for p in params]
            buffers = [self.state[p]["momentum_buffer"] for p in params]
            torch._foreach_mul_(mean_squares, group["rho"])
            torch._foreach_addcmul_(mean_squares, grads, grads, value=1.0 - group["rho"])
            denominators = torch._foreach_add(mean_squares, group["eps"])
            torch._foreach_sqrt_(denominators)
            torch._foreach_mul_(buffers, group["momentum"])
            torch._foreach_addcdiv_(buffers, grads, denominators, value=group["lr"])
            torch._foreach_sub_(params, buffers)
        return loss


def _check_hyper(name: str, value: float, *, positive: bool = False) -> None:
    if not (value > 0 if positive else value >= 0):
        raise ValueError(f"{name} must be {'> 0' if positive else '>= 0'}, got {value}")


def is_depthwise(module: nn.Module) -> bool:
    """A depthwise convolution: one filter per input channel (groups == in == out channels)."""
    return (
        isinstance(module, nn.Conv2d)
        and module.groups > 1
        and module.groups == module.in_channels == module.out_channels
    )


_NORMS = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)


def param_groups(
    model: nn.Module,
    weight_decay: float,
    *,
    decay_depthwise: bool = False,
    decay_norm_and_bias: bool = False,
    classifier_lr: float | None = None,
    classifier: nn.Module | None = None,
) -> list[dict[str, Any]]:
    """Split ``model``'s trainable parameters into optimizer groups.

    By default depthwise filters, normalization parameters and biases get no weight decay (the
    paper: "very little or no weight decay on the depthwise filters"; the rest follows timm and
    torchvision's recipes). With ``classifier_lr`` the parameters of ``classifier`` (default
    ``model.classifier``) get that learning rate, for transfer learning. Each group has a
    ``name``; frozen parameters (``requires_grad=False``) are left out; empty groups are dropped.
    """
    _check_hyper("weight_decay", weight_decay)
    classifier_ids: set[int] = set()
    if classifier_lr is not None:
        _check_hyper("classifier_lr", classifier_lr, positive=True)
        head = classifier if classifier is not None else getattr(model, "classifier", None)
        if head is None:
            raise ValueError(
                "classifier_lr needs a classifier: pass classifier= or use a model with .classifier"
            )
        classifier_ids = {id(p) for p in head.parameters()}
    groups: dict[tuple[bool, bool], list[nn.Parameter]] = {}
    seen: set[int] = set()
    for module in model.modules():
        for name, param in module.named_parameters(recurse=False):
            if not param.requires_grad or id(param) in seen:
                continue
            seen.add(id(param))
            exempt = (is_depthwise(module) and name == "weight" and not decay_depthwise) or (
                (isinstance(module, _NORMS) or name == "bias") and not decay_norm_and_bias
            )
            groups.setdefault((id(param) in classifier_ids, not exempt), []).append(param)
    result = []
    for (is_head, decays), params in sorted(groups.items()):
        group: dict[str, Any] = {
            "name": ("classifier" if is_head else "backbone") + ("" if decays else "_no_decay"),
            "params": params,
            "weight_decay": weight_decay if decays else 0.0,
        }
        if is_head:
            group["lr"] = classifier_lr
        result.append(group)
    return result


def build_optimizer(
    model_or_groups: nn.Module | list[dict[str, Any]],
    name: str,
    lr: float,
    weight_decay: float,
    momentum: float = 0.9,
    *,
    eps: float | None = None,
    rho: float = RMSPROP_DEFAULTS["rho"],
    betas: tuple[float, float] = (0.9, 0.999),
) -> torch.optim.Optimizer:
    """The optimizer ``name`` (rmsprop: TF semantics; sgd: Nesterov momentum; adamw) over a model
    (split by :func:`param_groups` with its defaults) or over ready-made groups.

    ``eps`` defaults to TF-slim's 1.0 for rmsprop and torch's 1e-8 for adamw. Weight decay is an
    L2 term in the gradient for rmsprop and sgd, decoupled for adamw.
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    _check_hyper("lr", lr, positive=True)
    _check_hyper("weight_decay", weight_decay)
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"momentum must be in [0, 1), got {momentum}")
    groups = (
        param_groups(model_or_groups, weight_decay)
        if isinstance(model_or_groups, nn.Module)
        else model_or_groups
    )
    if name == "rmsprop":
        return RMSpropTF(
            groups,
            lr=lr,
            rho=rho,
            momentum=momentum,
            eps=RMSPROP_DEFAULTS["eps"] if eps is None else eps,
            weight_decay=weight_decay,
        )
    kernel = {"fused": True} if _fused_supported(groups) else {"foreach": True}
    if name == "sgd":
        return torch.optim.SGD(
            groups,
            lr=lr,
            momentum=momentum,
            nesterov=momentum > 0,
            weight_decay=weight_decay,
            **kernel,
        )
    return torch.optim.AdamW(
        groups,
        lr=lr,
        betas=betas,
        eps=1e-8 if eps is None else eps,
        weight_decay=weight_decay,
        **kernel,
    )


def _fused_supported(groups: list[dict[str, Any]]) -> bool:
    """Whether torch's fused SGD/AdamW kernels take these parameters (floating point, on CPU or
    CUDA). On CPU they step 2-7x faster than the foreach ones (benchmarks/optimizer_step.py)."""
    return all(
        p.is_floating_point() and p.device.type in ("cpu", "cuda")
        for group in groups
        for p in group["params"]
    )
