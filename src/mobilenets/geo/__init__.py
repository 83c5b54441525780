"""Geolocation as PlaNet does it (Weyand et al., 2016; the MobileNets paper's Table 11):
classification over an adaptive partition of the Earth into S2 cells, scored by great-circle
distance at street, city, region, country and continent scale."""

from .cells import LOCATIONS, CellPartition, partition
from .distance import PAPER_PLANET_MOBILENET, SCALES, distance_shares, haversine_km
from .evaluation import evaluate, load
from .predict import predict
from .synthetic import make_geo
from .task import GeoTask
from .training import resume, train

__all__ = [
    "LOCATIONS",
    "PAPER_PLANET_MOBILENET",
    "SCALES",
    "CellPartition",
    "GeoTask",
    "distance_shares",
    "evaluate",
    "haversine_km",
    "load",
    "make_geo",
    "partition",
    "predict",
    "resume",
    "train",
]
