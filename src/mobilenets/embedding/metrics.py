"""The two applications' metrics: average precision per attribute (Table 12's mean AP) and
face-verification rates on all pairs of a set of embeddings (Table 14's accuracy at a false
accept rate of 1e-4, and the best-threshold accuracy)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch

# More images than this make more than 12.5M pairs: memory, not accuracy, sets the limit.
MAX_PAIR_IMAGES = 5000


def _last_of_ties(ordered: torch.Tensor) -> torch.Tensor:
    """True at the last element of every run of equal values in a sorted tensor: the cuts where
    a threshold can fall (tied items are accepted or rejected together)."""
    last = torch.ones_like(ordered, dtype=torch.bool)
    last[:-1] = ordered[1:] != ordered[:-1]
    return last


def average_precision(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """The area under the precision-recall step curve, sum_k (R_k - R_(k-1)) * P_k over the
    distinct score thresholds (tied scores form one threshold), as scikit-learn's
    ``average_precision_score``. NaN when there is no positive label."""
    order = scores.argsort(descending=True, stable=True)
    scores, labels = scores[order], labels[order].double()
    true_positives = labels.cumsum(0)
    if true_positives[-1] == 0:
        return math.nan
    last_of_tie = _last_of_ties(scores)
    true_positives = true_positives[last_of_tie]
    predicted = (torch.arange(len(scores), dtype=torch.double) + 1)[last_of_tie]
    recall = true_positives / true_positives[-1]
    gained = torch.diff(recall, prepend=recall.new_zeros(1))
    return float((gained * true_positives / predicted).sum())


def mean_average_precision(scores: torch.Tensor, labels: torch.Tensor) -> tuple[float, list[float]]:
    """The mean over attributes (columns) that have a positive label, and every column's AP."""
    per_attribute = [
        average_precision(scores[:, column], labels[:, column]) for column in range(scores.shape[1])
    ]
    defined = [ap for ap in per_attribute if not math.isnan(ap)]
    return (sum(defined) / len(defined) if defined else math.nan), per_attribute


def pair_distances(
    embeddings: torch.Tensor, identities: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Squared L2 distances of every unordered pair (i < j) of the embeddings (as FaceNet's
    threshold is on squared distance), and whether each pair is of one identity."""
    if len(embeddings) > MAX_PAIR_IMAGES:
        raise ValueError(
            f"{len(embeddings)} images make too many pairs; use at most {MAX_PAIR_IMAGES}"
        )
    first, second = torch.triu_indices(len(embeddings), len(embeddings), offset=1)
    embeddings = embeddings.double()
    squared = torch.cdist(embeddings, embeddings).pow(2)
    return squared[first, second], identities[first] == identities[second]


class VerificationCurve(NamedTuple):
    """The verification ROC: accepting the pairs at distance <= ``thresholds[i]`` (the distinct
    distances, ascending) gives false-accept rate ``far[i]`` and true-accept rate ``tar[i]``."""

    thresholds: torch.Tensor
    far: torch.Tensor
    tar: torch.Tensor
    same_pairs: int
    different_pairs: int


def verification_curve(distances: torch.Tensor, same: torch.Tensor) -> VerificationCurve:
    """One ROC point per distinct distance: the sorted distances cut after every tie group (tied
    pairs are accepted or rejected together). Accepting nothing, (0, 0), is not a point."""
    positives, negatives = int(same.sum()), int((~same).sum())
    if not positives or not negatives:
        raise ValueError("verification needs pairs of the same and of different identities")
    order = distances.argsort()
    ordered, is_same = distances[order], same[order].double()
    last_of_tie = _last_of_ties(ordered)
    return VerificationCurve(
        ordered[last_of_tie],
        (1 - is_same).cumsum(0)[last_of_tie] / negatives,
        is_same.cumsum(0)[last_of_tie] / positives,
        positives,
        negatives,
    )


def operating_points(
    curve: VerificationCurve, far: float | Sequence[float] | torch.Tensor
) -> torch.Tensor:
    """For each false-accept rate in ``far``, the index of the curve's last point whose rate is at
    most it (-1 where even the first point's is higher): FaceNet's VAL at that FAR is its ``tar``."""
    # Whole pairs: the rate of floor(far * #different) false accepts, divided as the curve's are.
    allowed = (
        torch.floor(torch.as_tensor(far, dtype=torch.double) * curve.different_pairs)
        / curve.different_pairs
    )
    return torch.searchsorted(curve.far, allowed, right=True) - 1


def verification_rates(
    distances: torch.Tensor, same: torch.Tensor, far: float = 1e-4
) -> dict[str, float]:
    """A pair is accepted (called "same identity") when its distance is below a threshold.

    ``tar``: the true-accept rate at the largest threshold whose false-accept rate is <= ``far``
    (FaceNet's VAL at that FAR): with the different-identity distances sorted, d_(0) <= d_(1) ...,
    and k = floor(far * #different), the threshold is d_(k), so at most k different pairs fall
    below it (``far`` reports the rate reached). ``accuracy``: the best over all thresholds of
    (TAR + true-reject rate) / 2, the accuracy on a set with as many same as different pairs
    (LFW's 50/50 protocol), chance 0.5; its pairs are accepted at distance <= ``accuracy_threshold``.
    """
    return curve_rates(verification_curve(distances, same), far)


def curve_rates(curve: VerificationCurve, far: float = 1e-4) -> dict[str, float]:
    """``verification_rates`` read off a curve already computed."""
    point = int(operating_points(curve, far))
    # d_(k), the smallest distance whose acceptance passes more than k different pairs: the next point's.
    threshold = (
        float(curve.thresholds[point + 1]) if point + 1 < len(curve.thresholds) else math.inf
    )
    tar, far_reached = (
        (float(curve.tar[point]), float(curve.far[point])) if point >= 0 else (0.0, 0.0)
    )
    balanced = (curve.tar + 1 - curve.far) / 2
    best = int(balanced.argmax())
    accuracy = max(float(balanced[best]), 0.5)  # accepting nothing (or everything) scores 0.5
    return {
        "tar": tar,
        "far": far_reached,
        "far_target": far,
        "threshold": threshold,
        "accuracy": accuracy,
        "accuracy_threshold": float(curve.thresholds[best]),
        "same_pairs": curve.same_pairs,
        "different_pairs": curve.different_pairs,
    }
