"""Transfer learning (the paper's fine-grained Stanford Dogs experiment): start from a trained
network (a checkpoint of this project, or Google's released weights), with a new classifier for
the new class count, optionally training the classifier alone."""

from __future__ import annotations

from torch import nn

from ..models.compatible import ARCHITECTURE_KEYS, check_compatible
from ..weights import create_model, model_from_weights
from .checkpoint import load_checkpoint
from .config import TrainConfig

# Google's released weights take inputs scaled to [-1, 1]: the data is normalised to match.
PRETRAINED_MEAN = PRETRAINED_STD = (0.5, 0.5, 0.5)


def classifier_of(model: nn.Module) -> nn.Module:
    head = (
        model.get_classifier()
        if hasattr(model, "get_classifier")
        else getattr(model, "classifier", None)
    )
    if not isinstance(head, nn.Module):
        raise ValueError(
            f"{type(model).__name__} has no classifier (get_classifier() or .classifier)"
        )
    return head


def load_initial_weights(model: nn.Module, path: str) -> None:
    """Loads every weight of the checkpoint at ``path`` into ``model`` except a classifier whose
    class count differs (that one keeps its fresh initialisation). The architecture must match;
    the resolution may differ."""
    checkpoint = load_checkpoint(path)
    saved, wanted = checkpoint.get("model_config") or {}, getattr(model, "config", {})
    check_compatible(
        saved,
        wanted,
        keys=[key for key in ARCHITECTURE_KEYS if key != "resolution"],
        what=f"the --init checkpoint {path}",
    )
    head = {name for name, _ in classifier_of(model).named_parameters()}
    prefix = next(
        (f"{name}." for name, module in model.named_modules() if module is classifier_of(model)), ""
    )
    own = model.state_dict()
    state = {}
    for key, value in checkpoint["model"].items():
        if key in own and own[key].shape != value.shape:
            if key.removeprefix(prefix) not in head:
                raise ValueError(
                    f"the --init checkpoint {path} has {key} of shape {tuple(value.shape)}; "
                    f"the model has {tuple(own[key].shape)}"
                )
            continue  # the old classifier, for another class count
        state[key] = value
    missing, unexpected = model.load_state_dict(state, strict=False)
    stray = [key for key in missing if key.removeprefix(prefix) not in head] + list(unexpected)
    if stray:
        raise ValueError(
            f"the --init checkpoint {path} does not fit the model: {', '.join(stray[:3])} ..."
        )


def pretrained_start(config: TrainConfig, num_classes: int, in_channels: int = 3) -> nn.Module:
    """The network of ``config.pretrained`` (the released architecture: tf_same padding, relu6,
    the weights' width), its classifier replaced when the data has another class count."""
    if in_channels != 3:
        raise ValueError(
            f"pretrained weights take colour images (3 channels); the data gives {in_channels}"
        )
    options = dict(
        drop_background=config.drop_background, resolution=config.resolution, dropout=config.dropout
    )
    if config.model:
        model = create_model(config.model, pretrained=config.pretrained, **options)
    else:
        model = model_from_weights(config.pretrained, **options)
        if config.alpha is not None and config.alpha != model.alpha:
            raise ValueError(
                f"the weights {config.pretrained} are for alpha {model.alpha}, not the asked alpha {config.alpha}"
            )
    for key, expected in (("mean", PRETRAINED_MEAN), ("std", PRETRAINED_STD)):
        if tuple(model.pretrained_cfg[key]) != expected:
            raise ValueError(
                f"the weights {config.pretrained} expect inputs normalised with {key} {model.pretrained_cfg[key]}; "
                f"training from weights supports Google's [-1, 1] inputs ({key} {expected})"
            )
    if model.num_classes != num_classes:
        model.reset_classifier(num_classes)
    return model


def freeze_backbone(model: nn.Module) -> None:
    """Stops gradients everywhere but the classifier (the classifier-only transfer baseline)."""
    model.requires_grad_(False)
    classifier_of(model).requires_grad_(True)
