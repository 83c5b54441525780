"""TF-style RMSprop against hand-computed steps; weight-decay groups; schedules; EMA."""

import math

import pytest
import torch
from torch import nn

from mobilenets.models.mobilenet_v1 import MobileNetV1
from mobilenets.train.ema import ModelEma
from mobilenets.train.optim import RMSpropTF, build_optimizer, param_groups
from mobilenets.train.schedule import build_scheduler


def _step(optimizer, param, grad):
    param.grad = torch.tensor(grad, dtype=torch.float64)
    optimizer.step()


def test_rmsprop_tf_two_steps_by_hand():
    # ms starts at 1, eps is inside the sqrt, lr is folded into the momentum buffer:
    # the lr change before step 2 only scales step 2's new gradient term.
    param = nn.Parameter(torch.tensor([1.0, -2.0], dtype=torch.float64))
    optimizer = RMSpropTF([param], lr=0.1, rho=0.9, momentum=0.9, eps=0.5)
    _step(optimizer, param, [0.5, 1.0])
    ms1 = [0.9 * 1 + 0.1 * 0.5**2, 0.9 * 1 + 0.1 * 1.0**2]
    mom1 = [0.1 * 0.5 / math.sqrt(ms1[0] + 0.5), 0.1 * 1.0 / math.sqrt(ms1[1] + 0.5)]
    p1 = [1.0 - mom1[0], -2.0 - mom1[1]]
    assert param.tolist() == pytest.approx(p1, abs=1e-12)

    optimizer.param_groups[0]["lr"] = 0.05
    _step(optimizer, param, [-1.0, 2.0])
    ms2 = [0.9 * ms1[0] + 0.1 * 1.0, 0.9 * ms1[1] + 0.1 * 4.0]
    mom2 = [
        0.9 * mom1[0] + 0.05 * -1.0 / math.sqrt(ms2[0] + 0.5),
        0.9 * mom1[1] + 0.05 * 2.0 / math.sqrt(ms2[1] + 0.5),
    ]
    assert param.tolist() == pytest.approx([p1[0] - mom2[0], p1[1] - mom2[1]], abs=1e-12)
    assert optimizer.state[param]["mean_square"].tolist() == pytest.approx(ms2, abs=1e-12)


def test_rmsprop_tf_weight_decay_is_l2_in_the_gradient():
    param = nn.Parameter(torch.tensor([3.0], dtype=torch.float64))
    optimizer = RMSpropTF(
        [param], lr=0.2, weight_decay=0.1
    )  # defaults: rho 0.9, momentum 0.9, eps 1.0
    _step(optimizer, param, [0.4])
    g = 0.4 + 0.1 * 3.0
    assert param.item() == pytest.approx(
        3.0 - 0.2 * g / math.sqrt(0.9 + 0.1 * g * g + 1.0), abs=1e-12
    )


def test_rmsprop_tf_equals_timm_reference_on_a_mobilenet():
    timm_optim = pytest.importorskip("timm.optim")
    models = [MobileNetV1(alpha=0.25, resolution=32, num_classes=10) for _ in range(2)]
    models[1].load_state_dict(models[0].state_dict())
    optimizers = [
        build_optimizer(models[0], "rmsprop", 0.05, 1e-2),
        timm_optim.RMSpropTF(
            param_groups(models[1], 1e-2),
            lr=0.05,
            alpha=0.9,
            eps=1.0,
            momentum=0.9,
            lr_in_momentum=True,
        ),
    ]
    # The same gradients for both (the optimizer is the unit here), lr changing between steps.
    for step in range(3):
        grads = [torch.randn_like(p) for p in models[0].parameters()]
        for model, optimizer in zip(models, optimizers):
            for group in optimizer.param_groups:
                group["lr"] = 0.05 / (step + 1)
            for param, grad in zip(model.parameters(), grads):
                param.grad = grad.clone()
            optimizer.step()
    for ours, theirs in zip(models[0].parameters(), models[1].parameters()):
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)


def test_rmsprop_tf_differs_from_torch_rmsprop():
    params = [nn.Parameter(torch.tensor([1.0])) for _ in range(2)]
    ours = RMSpropTF([params[0]], lr=0.1, eps=1e-3)
    theirs = torch.optim.RMSprop([params[1]], lr=0.1, alpha=0.9, eps=1e-3, momentum=0.9)
    for optimizer, param in zip((ours, theirs), params):
        param.grad = torch.tensor([0.5])
        optimizer.step()
    # torch: ms from 0 -> step ~ lr * g / |g| / sqrt(0.1); ours: ms from 1 -> a much smaller step.
    assert abs(1 - params[0].item()) < 0.06 < abs(1 - params[1].item())


def test_default_groups_exempt_depthwise_norm_and_bias():
    model = MobileNetV1()
    groups = {group["name"]: group for group in param_groups(model, 4e-5)}
    names = {id(p): name for name, p in model.named_parameters()}
    decayed = sorted(names[id(p)] for p in groups["backbone"]["params"])
    exempt = sorted(names[id(p)] for p in groups["backbone_no_decay"]["params"])
    assert (
        groups["backbone"]["weight_decay"] == 4e-5
        and groups["backbone_no_decay"]["weight_decay"] == 0.0
    )
    # Decay: the first full conv, the 13 pointwise convs and the classifier weight.
    assert decayed == sorted(
        ["features.Conv2d_0.conv.weight", "classifier.weight"]
        + [f"features.Conv2d_{i}_pointwise.conv.weight" for i in range(1, 14)]
    )
    # No decay: 13 depthwise filters, 27 batch norms x (weight, bias), the classifier bias.
    assert len(exempt) == 13 + 54 + 1
    assert sum(".depthwise" in n or "_depthwise.conv" in n for n in exempt) == 13
    assert sum(".bn." in n for n in exempt) == 54 and "classifier.bias" in exempt


def test_groups_options_and_classifier_lr():
    model = MobileNetV1(alpha=0.25, resolution=32, num_classes=10)
    everything = param_groups(model, 1e-4, decay_depthwise=True, decay_norm_and_bias=True)
    assert [g["name"] for g in everything] == ["backbone"] and len(everything[0]["params"]) == 83
    only_depthwise = {
        g["name"]: len(g["params"]) for g in param_groups(model, 1e-4, decay_depthwise=True)
    }
    assert only_depthwise == {"backbone": 15 + 13, "backbone_no_decay": 54 + 1}
    for p in model.features.parameters():
        p.requires_grad_(False)
    frozen = param_groups(model, 1e-4, classifier_lr=0.5)
    assert [(g["name"], len(g["params"]), g["lr"]) for g in frozen] == [
        ("classifier_no_decay", 1, 0.5),
        ("classifier", 1, 0.5),
    ]


def test_build_optimizer_kinds_and_errors():
    model = MobileNetV1(alpha=0.25, resolution=32, num_classes=10)
    assert isinstance(build_optimizer(model, "rmsprop", 0.045, 4e-5), RMSpropTF)
    sgd = build_optimizer(model, "sgd", 0.1, 1e-4)
    assert (
        sgd.defaults["nesterov"]
        and sgd.defaults["fused"]
        and sgd.param_groups[0]["weight_decay"] == 0.0
    )
    assert isinstance(
        build_optimizer(param_groups(model, 0.05), "adamw", 1e-3, 0.05), torch.optim.AdamW
    )
    with pytest.raises(ValueError, match="rmsprop, sgd, adamw"):
        build_optimizer(model, "adam", 0.1, 0.0)
    with pytest.raises(ValueError, match="lr must be > 0"):
        build_optimizer(model, "sgd", 0.0, 0.0)


def _lrs(name, steps, **kwargs):
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    scheduler = build_scheduler(
        optimizer, name, epochs=6, steps_per_epoch=10, warmup_epochs=1, **kwargs
    )
    values = []
    for step in range(max(steps) + 1):
        if step in steps:
            values.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return values


def test_exponential_schedule_by_hand():
    # 10 warm-up steps, then x0.94 every 2 epochs (20 steps) counted from step 0.
    assert _lrs("exponential", [0, 4, 9, 19, 20, 45]) == pytest.approx(
        [0.01, 0.05, 0.1, 0.1, 0.094, 0.1 * 0.94**2]
    )


def test_cosine_and_constant_schedules_by_hand():
    assert _lrs("cosine", [10, 22, 35, 59]) == pytest.approx(
        [
            0.1,
            0.05 * (1 + math.cos(math.pi * 12 / 50)),
            0.05,
            0.05 * (1 + math.cos(math.pi * 49 / 50)),
        ]
    )
    assert _lrs("constant", [0, 9, 10, 59]) == pytest.approx([0.01, 0.1, 0.1, 0.1])


def test_scheduler_resumes_from_state_dict():
    def make():
        optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
        return optimizer, build_scheduler(
            optimizer, "exponential", epochs=3, steps_per_epoch=5, decay_epochs=0.5
        )

    optimizer, scheduler = make()
    for _ in range(7):
        optimizer.step()
        scheduler.step()
    resumed_optimizer, resumed = make()
    resumed.load_state_dict(scheduler.state_dict())
    resumed_optimizer.load_state_dict(optimizer.state_dict())
    assert resumed.last_epoch == 7 and resumed.get_last_lr() == pytest.approx([0.1 * 0.94**2])
    with pytest.raises(ValueError, match="exponential, cosine, constant"):
        build_scheduler(optimizer, "step", epochs=1, steps_per_epoch=1)


class _Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1, dtype=torch.float64))
        self.register_buffer("running", torch.zeros(1, dtype=torch.float64))


def test_ema_after_k_updates_matches_formula():
    model = _Tiny()
    ema = ModelEma(model, decay=0.5)
    values = [2.0, 4.0, 8.0, 16.0]
    for value in values:
        model.weight.data.fill_(value)
        model.running.fill_(-value)
        ema.update_parameters(model)
    # Update n (from 0) uses min(0.5, (1 + n) / (10 + n)); update 0 copies the model.
    expected = values[0]
    for n, value in enumerate(values[1:], start=1):
        decay = min(0.5, (1 + n) / (10 + n))
        expected = decay * expected + (1 - decay) * value
    assert ema.module.weight.item() == pytest.approx(expected, abs=1e-12)
    assert ema.module.running.item() == pytest.approx(-expected, abs=1e-12)
    assert ema.current_decay() == 5 / 14  # n = 4 -> min(0.5, 5/14)

    restored = ModelEma(_Tiny(), decay=0.5)
    restored.load_state_dict(ema.state_dict())
    assert int(restored.n_averaged) == 4 and restored.module.weight.item() == pytest.approx(
        expected
    )


def test_ema_without_warmup_uses_fixed_decay():
    model = _Tiny()
    ema = ModelEma(model, decay=0.9, warmup=False)
    for value in (1.0, 0.0):
        model.weight.data.fill_(value)
        ema.update_parameters(model)
    assert ema.module.weight.item() == pytest.approx(0.9)
