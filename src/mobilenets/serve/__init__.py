"""``mobilenets serve``: a local web page and JSON API to try models on photos (needs the
``serve`` extra: FastAPI and uvicorn)."""

from __future__ import annotations

from .models import Catalog, ModelEntry

__all__ = ["Catalog", "ModelEntry", "create_app"]


def __getattr__(name: str) -> object:  # the app needs FastAPI: imported when asked for
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(name)
