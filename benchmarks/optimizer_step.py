"""Optimizer step time on a MobileNet's parameters: this project's TF-style RMSprop against timm's
RMSpropTF (its peer, same semantics), and torch's SGD/AdamW implementations (for-loop, foreach,
fused) to choose the default. Prints one JSON document.

    PYTHONPATH=src .venv/bin/python benchmarks/optimizer_step.py [--alpha 1.0] [--steps 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
from timm.optim import RMSpropTF as TimmRMSpropTF

from mobilenets.machine import cpu_name
from mobilenets.models.mobilenet_v1 import MobileNetV1
from mobilenets.train.optim import RMSpropTF, param_groups


def step_ms(make, model: torch.nn.Module, steps: int) -> float:
    optimizer = make(param_groups(model, 4e-5))
    for p in model.parameters():
        p.grad = torch.randn_like(p) * 1e-3
    optimizer.step()  # state allocation stays out of the timing
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alpha", type=float, default=1.0)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    model = MobileNetV1(alpha=args.alpha)
    candidates = {
        "mobilenets RMSpropTF": lambda g: RMSpropTF(g, lr=0.045),
        "timm RMSpropTF": lambda g: TimmRMSpropTF(g, lr=0.045, alpha=0.9, eps=1.0, momentum=0.9),
        "SGD nesterov for-loop": lambda g: torch.optim.SGD(
            g, lr=0.1, momentum=0.9, nesterov=True, foreach=False
        ),
        "SGD nesterov foreach": lambda g: torch.optim.SGD(
            g, lr=0.1, momentum=0.9, nesterov=True, foreach=True
        ),
        "SGD nesterov fused": lambda g: torch.optim.SGD(
            g, lr=0.1, momentum=0.9, nesterov=True, fused=True
        ),
        "AdamW for-loop": lambda g: torch.optim.AdamW(g, lr=1e-3, foreach=False),
        "AdamW foreach": lambda g: torch.optim.AdamW(g, lr=1e-3, foreach=True),
        "AdamW fused": lambda g: torch.optim.AdamW(g, lr=1e-3, fused=True),
    }
    result = {
        "params": sum(p.numel() for p in model.parameters()),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "machine": cpu_name(),
    }
    # Rounds interleave the candidates so a burst of load on this shared machine hits all alike;
    # each keeps its best round.
    rounds = [
        {name: step_ms(make, model, args.steps) for name, make in candidates.items()}
        for _ in range(args.rounds)
    ]
    result["step_ms"] = {name: round(min(r[name] for r in rounds), 3) for name in candidates}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
