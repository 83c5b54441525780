"""The face applications' metrics, losses, student models and cost: hand-computed cases."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from mobilenets.embedding import (
    MobileNetEmbedding,
    average_precision,
    mean_average_precision,
    pair_distances,
    verification_rates,
)
from mobilenets.embedding.losses import attribute_loss, embedding_loss
from mobilenets.embedding.metrics import operating_points, verification_curve
from mobilenets.embedding.paper_rows import table12_cells, table14_cells
from mobilenets.embedding.standin import FASHION_ATTRIBUTES, attribute_table
from mobilenets.embedding.teachers import ClassToAttributes


def test_average_precision_by_hand() -> None:
    # Positives at ranks 1 and 3: precisions 1/1 and 2/3.
    assert average_precision(
        torch.tensor([0.9, 0.8, 0.7, 0.6]), torch.tensor([1, 0, 1, 0])
    ) == pytest.approx((1 + 2 / 3) / 2)
    # A tie is one threshold: (R 0.5, P 1/2) then (R 1, P 2/3).
    assert average_precision(
        torch.tensor([0.5, 0.5, 0.2]), torch.tensor([1, 0, 1])
    ) == pytest.approx(0.5 * 0.5 + 0.5 * 2 / 3)
    assert math.isnan(average_precision(torch.tensor([0.3, 0.1]), torch.tensor([0, 0])))
    scores = torch.tensor([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.6, 0.4]])
    labels = torch.tensor([[1, 0], [0, 0], [1, 0], [0, 0]])
    mean, per = mean_average_precision(scores, labels)
    assert mean == pytest.approx((1 + 2 / 3) / 2) and math.isnan(
        per[1]
    )  # no positive: left out of the mean


def test_average_precision_matches_scikit_learn() -> None:
    metrics = pytest.importorskip(
        "sklearn.metrics", reason="scikit-learn (the dev extra) is not installed"
    )
    generator = torch.Generator().manual_seed(0)
    scores = torch.randint(0, 20, (500,), generator=generator).float()  # many ties
    labels = torch.rand(500, generator=generator) < 0.3
    assert average_precision(scores, labels) == pytest.approx(
        metrics.average_precision_score(labels.numpy(), scores.numpy())
    )


def test_verification_rates_by_hand() -> None:
    distances = torch.tensor([0.1, 0.2, 0.5, 0.3, 0.4, 0.6, 0.7])
    same = torch.tensor([True, True, True, False, False, False, False])
    strict = verification_rates(distances, same, far=1e-4)  # no false accept allowed: threshold 0.3
    assert (strict["threshold"], strict["tar"], strict["far"]) == (
        pytest.approx(0.3),
        pytest.approx(2 / 3),
        0.0,
    )
    loose = verification_rates(distances, same, far=0.5)  # two of four allowed: threshold 0.6
    assert (loose["threshold"], loose["tar"], loose["far"]) == (pytest.approx(0.6), 1.0, 0.5)
    # Best balanced accuracy: accept <= 0.2 gives (2/3 + 4/4) / 2.
    assert strict["accuracy"] == pytest.approx((2 / 3 + 1) / 2) and strict[
        "accuracy_threshold"
    ] == pytest.approx(0.2)
    assert (strict["same_pairs"], strict["different_pairs"]) == (3, 4)


def test_verification_curve_by_hand() -> None:
    # Same pairs at 0.1, 0.2 and (tied with a different pair) 0.4; different pairs at 0.3, 0.4, 0.6, 0.7.
    distances = torch.tensor([0.4, 0.1, 0.7, 0.2, 0.4, 0.3, 0.6])
    same = torch.tensor([True, True, False, True, False, False, False])
    curve = verification_curve(distances, same)
    assert curve.thresholds.tolist() == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.6, 0.7])
    assert curve.tar.tolist() == pytest.approx([1 / 3, 2 / 3, 2 / 3, 1, 1, 1])
    assert curve.far.tolist() == pytest.approx([0, 0, 1 / 4, 2 / 4, 3 / 4, 1])
    assert (curve.same_pairs, curve.different_pairs) == (3, 4)
    # FAR 0 .. 0.24: point 1 (0.2); 0.25: point 2; 0.5: point 3 (the tie at 0.4 accepted whole).
    assert operating_points(curve, [0.0, 0.24, 0.25, 0.5, 1.0]).tolist() == [1, 1, 2, 3, 5]
    # A different pair closest of all: no threshold keeps FAR at 0.
    assert (
        operating_points(
            verification_curve(torch.tensor([0.1, 0.2]), torch.tensor([False, True])), 0.0
        ).tolist()
        == -1
    )


def test_verification_curve_at_far_is_verification_rates_tar() -> None:
    generator = torch.Generator().manual_seed(0)
    same = torch.rand(200_000, generator=generator) < 0.1
    # Rounded distances: many ties, some across identities; same pairs are closer on average.
    distances = (
        (torch.randn(200_000, generator=generator, dtype=torch.double) + 2 * (~same))
        .mul(50)
        .round()
    )
    curve = verification_curve(distances, same)
    negatives, positives = distances[~same], distances[same]
    for far in (1e-4, 1e-3, 0.1):
        reference = negatives.kthvalue(
            math.floor(far * len(negatives)) + 1
        ).values  # d_(k), computed apart
        tar = float(curve.tar[operating_points(curve, far)])
        assert (
            tar
            == verification_rates(distances, same, far=far)["tar"]
            == float((positives < reference).double().mean())
        )
    sklearn_metrics = pytest.importorskip(
        "sklearn.metrics", reason="scikit-learn (the dev extra) is not installed"
    )
    fpr, tpr, _ = sklearn_metrics.roc_curve(
        same.numpy(), -distances.numpy(), drop_intermediate=False
    )
    assert curve.far.tolist() == pytest.approx(
        fpr[1:].tolist()
    ) and curve.tar.tolist() == pytest.approx(tpr[1:].tolist())


def test_pair_distances_all_unordered_pairs() -> None:
    embeddings = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    distances, same = pair_distances(embeddings, torch.tensor([0, 1, 0]))
    assert distances.tolist() == pytest.approx([2.0, 0.0, 2.0]) and same.tolist() == [
        False,
        True,
        False,
    ]


def test_verification_on_a_thousand_images_is_exact() -> None:
    # Classes on separate axes plus small noise: every same pair is closer than any different pair.
    identities = torch.arange(1000) % 10
    embeddings = F.normalize(
        F.one_hot(identities, 128).float() + 0.01 * torch.randn(1000, 128), dim=1
    )
    rates = verification_rates(*pair_distances(embeddings, identities))
    assert rates["different_pairs"] == 10 * 100 * 900 // 2 and rates["far"] <= 1e-4
    assert rates["tar"] == 1.0 and rates["accuracy"] == 1.0


def test_embedding_loss_is_the_squared_difference() -> None:
    assert embedding_loss(
        torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    ).item() == pytest.approx(2.0)
    student, teacher = torch.randn(5, 128), torch.randn(5, 128)
    expected = (
        sum(
            sum((s - t) ** 2 for s, t in zip(row_s.tolist(), row_t.tolist()))
            for row_s, row_t in zip(student, teacher)
        )
        / 5
    )
    assert embedding_loss(student, teacher).item() == pytest.approx(expected, rel=1e-5)


def test_attribute_loss_by_hand() -> None:
    student, teacher, labels = (
        torch.tensor([[0.5, -1.0]]),
        torch.tensor([[2.0, 0.0]]),
        torch.tensor([[1.0, 0.0]]),
    )

    def bce(logit: float, target: float) -> float:
        p = 1 / (1 + math.exp(-logit))
        return -(target * math.log(p) + (1 - target) * math.log(1 - p))

    def sigmoid(x: float) -> float:
        return 1 / (1 + math.exp(-x))

    soft = (bce(0.5 / 2, sigmoid(2.0 / 2)) + bce(-1.0 / 2, sigmoid(0.0))) / 2 * 4
    hard = (bce(0.5, 1.0) + bce(-1.0, 0.0)) / 2
    assert attribute_loss(student, teacher, None, temperature=2.0).item() == pytest.approx(soft)
    assert attribute_loss(
        student, teacher, labels, weight=0.25, temperature=2.0
    ).item() == pytest.approx(0.75 * hard + 0.25 * soft)
    assert attribute_loss(student, None, labels).item() == pytest.approx(hard)


def test_embedding_model_unit_norm_128() -> None:
    model = MobileNetEmbedding(alpha=0.25, resolution=32, in_channels=1).eval()
    out = model(torch.randn(3, 1, 32, 32))
    assert out.shape == (3, 128) and torch.allclose(out.norm(dim=1), torch.ones(3))
    rebuilt = MobileNetEmbedding(**model.config)
    assert rebuilt.embedding_dim == 128 and rebuilt.config == model.config


def test_standin_attributes_several_per_garment() -> None:
    table = attribute_table()
    assert table.shape == (10, len(FASHION_ATTRIBUTES)) == (10, 8)
    assert table.sum(1).tolist() == [1, 2, 3, 1, 3, 2, 2, 1, 1, 3]  # T-shirt ... ankle boot
    # A classifier sure of "coat" (4) is an attribute teacher sure of upper body, sleeves, winter.
    logits = torch.full((1, 10), -20.0)
    logits[0, 4] = 20.0
    probabilities = ClassToAttributes(torch.nn.Identity(), table)(logits).sigmoid()[0]
    assert probabilities.round().tolist() == table[4].tolist()


def test_students_cost_against_tables_12_and_14() -> None:
    """Table 12's cost is the ImageNet MobileNet's body (with a small attribute head) except the
    0.25 rows' mult-adds; Table 14's mult-adds fit a 128-d head except 0.75-128, its params none."""
    agree = {
        (
            cell.table,
            cell.row.split(" MobileNet-")[0] + "-" + cell.row.split("-")[1].split()[0],
            cell.column,
        )
        for cell in table12_cells() + table14_cells()
        if cell.ok
    }
    assert agree == {
        *{
            ("12", row, column)
            for row in ("1.0-224", "0.5-224", "1.0-128", "0.5-128")
            for column in ("M mult-adds", "M params")
        },
        ("12", "0.25-224", "M params"),
        ("12", "0.25-128", "M params"),
        ("14", "1.0-160", "M mult-adds"),
        ("14", "1.0-128", "M mult-adds"),
        ("14", "0.75-160", "M mult-adds"),
    }
    assert all(cell.ok == cell.checked for cell in table12_cells() + table14_cells())
