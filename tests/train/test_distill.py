"""Distillation loss against cross-entropy and a hand-computed KL term."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mobilenets.train.distill import distillation_loss


def _log_softmax(values):
    top = math.log(sum(math.exp(v) for v in values))
    return [v - top for v in values]


def test_weight_zero_is_cross_entropy():
    student, teacher = torch.randn(8, 5), torch.randn(8, 5)
    labels = torch.randint(0, 5, (8,))
    loss = distillation_loss(student, teacher, labels, weight=0.0, temperature=4.0)
    assert loss.item() == pytest.approx(F.cross_entropy(student, labels).item(), abs=1e-6)


def test_weight_one_ignores_labels_and_has_zero_gradient_at_the_teacher():
    teacher = torch.randn(6, 4)
    student = teacher.clone().requires_grad_(True)
    loss = distillation_loss(student, teacher, None, weight=1.0, temperature=3.0)
    loss.backward()
    assert loss.item() == pytest.approx(0.0, abs=1e-6) and student.grad.abs().max().item() < 1e-6
    other = torch.randn(6, 4)
    with_labels = [
        distillation_loss(other, teacher, torch.full((6,), c), weight=1.0, temperature=3.0)
        for c in range(4)
    ]
    assert all(value.item() == with_labels[0].item() for value in with_labels)
    assert (
        distillation_loss(other, teacher, None, weight=1.0, temperature=3.0).item()
        == with_labels[0].item()
    )


def test_temperature_squared_scaling_by_hand():
    student = [[1.0, 2.0, 0.0], [0.5, -1.0, 1.0]]
    teacher = [[0.0, 1.0, 3.0], [2.0, 0.0, -2.0]]
    labels = [1, 2]
    T, w = 2.0, 0.3
    kl = 0.0
    for s, t in zip(student, teacher):
        log_p_t, log_p_s = _log_softmax([v / T for v in t]), _log_softmax([v / T for v in s])
        kl += sum(math.exp(a) * (a - b) for a, b in zip(log_p_t, log_p_s))
    ce = -sum(_log_softmax(s)[y] for s, y in zip(student, labels)) / 2
    expected = (1 - w) * ce + w * T * T * kl / 2
    loss = distillation_loss(
        torch.tensor(student), torch.tensor(teacher), torch.tensor(labels), weight=w, temperature=T
    )
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_weight_one_learns_the_teacher_without_labels():
    torch.manual_seed(0)
    teacher, student = nn.Linear(8, 3), nn.Linear(8, 3)
    inputs = torch.randn(256, 8)
    with torch.no_grad():
        targets = teacher(inputs)
    agree_before = (student(inputs).argmax(1) == targets.argmax(1)).float().mean().item()
    optimizer = torch.optim.SGD(student.parameters(), lr=2.0)
    for _ in range(20):
        optimizer.zero_grad()
        distillation_loss(student(inputs), targets, None, weight=1.0, temperature=2.0).backward()
        optimizer.step()
    assert (
        agree_before < 0.6
        and (student(inputs).argmax(1) == targets.argmax(1)).float().mean().item() > 0.95
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"weight": 1.5, "temperature": 1.0}, "weight must be in"),
        ({"weight": -0.1, "temperature": 1.0}, "weight must be in"),
        ({"weight": 0.5, "temperature": 0.0}, "temperature must be > 0"),
        ({"weight": 0.5, "temperature": 1.0}, "labels are needed"),
    ],
)
def test_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        distillation_loss(torch.zeros(2, 3), torch.zeros(2, 3), None, **kwargs)
