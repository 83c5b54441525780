"""The two applications' metrics: average precision per attribute (Table 12's mean AP) and
face-verification rates on all pairs of a set of embeddings (Table 14's accuracy at a false
accept rate of 1e-4, and the best-threshold accuracy)."""
from __future__ import annotations

import math

import torch

# More images than this make more than 12.5M pairs: memory, not accuracy, sets the limit.
MAX_PAIR_IMAGES = 5000


def average_precision(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """The area under the precision-recall step curve, sum_k (R_k - R_(k-1)) * P_k over the
    distinct score thresholds (tied scores form one threshold), as scikit-learn's
    ``average_precision_score``. NaN when there is no positive label."""
    order = scores.argsort(descending=True, stable=True)
    scores, labels = scores[order], labels[order].double()
    true_positives = labels.cumsum(0)
    if true_positives[-1] == 0:
        return math.nan
    last_of_tie = torch.ones_like(scores, dtype=torch.bool)
    last_of_tie[:-1] = scores[1:] != scores[:-1]
    true_positives = true_positives[last_of_tie]
    predicted = (torch.arange(len(scores), dtype=torch.double) + 1)[last_of_tie]
    recall = true_positives / true_positives[-1]
    gained = torch.diff(recall, prepend=recall.new_zeros(1))
    return float((gained * true_positives / predicted).sum())


def mean_average_precision(scores: torch.Tensor, labels: torch.Tensor) -> tuple[float, list[float]]:
    """The mean over attributes (columns) that have a positive label, and every column's AP."""
    per_attribute = [average_precision(scores[:, column], labels[:, column]) for column in range(scores.shape[1])]
    defined = [ap for ap in per_attribute if not math.isnan(ap)]
    return (sum(defined) / len(defined) if defined else math.nan), per_attribute


def pair_distances(embeddings: torch.Tensor, identities: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Squared L2 distances of every unordered pair (i < j) of the embeddings (as FaceNet's
    threshold is on squared distance), and whether each pair is of one identity."""
    if len(embeddings) > MAX_PAIR_IMAGES:
        raise ValueError(f"{len(embeddings)} images make too many pairs; use at most {MAX_PAIR_IMAGES}")
    first, second = torch.triu_indices(len(embeddings), len(embeddings), offset=1)
    embeddings = embeddings.double()
    squared = torch.cdist(embeddings, embeddings).pow(2)
    return squared[first, second], identities[first] == identities[second]


def verification_rates(distances: torch.Tensor, same: torch.Tensor, far: float = 1e-4) -> dict[str, float]:
    """A pair is accepted (called "same identity") when its distance is below a threshold.

    ``tar``: the true-accept rate at the largest threshold whose false-accept rate is <= ``far``
    (FaceNet's VAL at that FAR): with the different-identity distances sorted, d_(0) <= d_(1) ...,
    and k = floor(far * #different), the threshold is d_(k), so at most k different pairs fall
    below it (``far`` reports the rate reached). ``accuracy``: the best over all thresholds of (TAR + true-reject rate) / 2, the
    accuracy on a set with as many same as different pairs (LFW's 50/50 protocol), chance 0.5.
    """
    positive, negative = distances[same], distances[~same]
    if not len(positive) or not len(negative):
        raise ValueError("verification needs pairs of the same and of different identities")
    allowed = math.floor(far * len(negative))
    if allowed >= len(negative):
        threshold = math.inf
    else:
        threshold = float(negative.kthvalue(allowed + 1).values)
    tar = float((positive < threshold).double().mean())
    far_reached = float((negative < threshold).double().mean())
    # Best balanced accuracy: cut the sorted distances after every tie group.
    order = distances.argsort()
    ordered, is_same = distances[order], same[order].double()
    accepted_same = is_same.cumsum(0) / len(positive)
    accepted_different = (1 - is_same).cumsum(0) / len(negative)
    last_of_tie = torch.ones_like(ordered, dtype=torch.bool)
    last_of_tie[:-1] = ordered[1:] != ordered[:-1]
    balanced = (accepted_same + 1 - accepted_different)[last_of_tie] / 2
    best = int(balanced.argmax())
    accuracy = max(float(balanced[best]), 0.5)  # accepting nothing (or everything) scores 0.5
    return {
        "tar": tar, "far": far_reached, "far_target": far, "threshold": threshold, "accuracy": accuracy,
        "accuracy_threshold": float(ordered[last_of_tie][best]),
        "same_pairs": int(len(positive)), "different_pairs": int(len(negative)),
    }
