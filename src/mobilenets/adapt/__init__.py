"""Per-layer widths for a latency budget measured on this machine (NetAdapt)."""

from .latency_table import LatencyTable
from .netadapt import adapt
from .prune import layer_widths, narrowed
from .results import adapted_points, uniform_front

__all__ = ["LatencyTable", "adapt", "adapted_points", "layer_widths", "narrowed", "uniform_front"]
