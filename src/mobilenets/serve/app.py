"""The web page's server: a FastAPI app over the Python API. Uploads go through the project's
one image reader into a temporary folder that is removed with the app; a request names a model
by its id in ``/api/models``; the models run in a worker thread behind a bounded queue, and a
request beyond it is refused with 503 instead of waiting without end."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from ..data.images import UnreadableImage
from ..messages import first_line, printable
from .models import Catalog, ModelEntry
from .results import read_results

STATIC = Path(__file__).parent / "static"
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
# Runtimes the latency button times, each where its extra is installed (a missing one is listed
# as skipped); the phone runtimes' exports take minutes, which a button press should not.
LATENCY_RUNTIMES = ("eager", "channels_last", "onnxruntime", "int8", "openvino")
LATENCY_RUNS = 20
CHUNK = 1 << 20
T = TypeVar("T")


class Busy(Exception):
    """More requests than the workers and the queue hold."""


class Gate:
    """At most ``workers`` model calls at a time in threads, ``queue`` more waiting; any
    further request is refused at once (:class:`Busy`)."""

    def __init__(self, workers: int = 1, queue: int = 8) -> None:
        if workers < 1 or queue < 0:
            raise ValueError("workers must be at least 1 and the queue at least 0")
        self.limit = workers + queue
        self.admitted = 0
        self.workers = workers
        self._semaphore: asyncio.Semaphore | None = None

    async def run(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if self.admitted >= self.limit:
            raise Busy()
        if self._semaphore is None:  # made in the server's event loop, on first use
            self._semaphore = asyncio.Semaphore(self.workers)
        self.admitted += 1
        try:
            async with self._semaphore:
                return await asyncio.to_thread(function, *args, **kwargs)
        finally:
            self.admitted -= 1


def create_app(
    catalog: Catalog,
    results: Sequence[str | os.PathLike[str]] = (),
    *,
    workers: int = 1,
    queue: int = 8,
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
) -> FastAPI:
    """The app: the page at ``/``, the JSON API under ``/api/``. ``results``: folders whose
    sweep, export-report and adapt results the chart shows (read now, so a bad one is refused
    before the server starts)."""
    series = read_results(results, catalog)
    gate = Gate(workers, queue)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The uploads' folder lives while the server runs (one per start of the app).
        app.state.uploads = Path(tempfile.mkdtemp(prefix="mobilenets-serve-"))
        try:
            yield
        finally:
            shutil.rmtree(app.state.uploads, ignore_errors=True)

    app = FastAPI(title="mobilenets", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.gate = gate
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(Busy)
    async def busy(request: Request, error: Busy) -> JSONResponse:
        return JSONResponse(
            {"detail": "the server is busy (its queue is full); try again in a moment"},
            status_code=503,
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(ValueError)
    async def refused(request: Request, error: ValueError) -> JSONResponse:
        return JSONResponse({"detail": first_line(error)}, status_code=400)

    @app.middleware("http")
    async def bounded_body(request: Request, call_next: Callable[..., Any]) -> Any:
        length = request.headers.get("content-length")
        # Two photos and the form's fields at most; a larger body is refused unread.
        if length and length.isdigit() and int(length) > 2 * max_upload_bytes + CHUNK:
            return JSONResponse({"detail": _too_large(max_upload_bytes)}, status_code=413)
        return await call_next(request)

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/api/models")
    async def models() -> dict[str, Any]:
        return {"models": [entry.to_dict() for entry in catalog.entries]}

    @app.get("/api/results")
    async def chart() -> dict[str, Any]:
        return {"series": series}

    @app.post("/api/predict")
    async def predict(
        file: Annotated[UploadFile, File()],
        model: Annotated[str | None, Form()] = None,
        score_thresh: Annotated[float, Form()] = 0.5,
    ) -> dict[str, Any]:
        entry = catalog.get(model)
        if entry.kind == "embedding":
            raise ValueError(f"model {entry.name} embeds photos: compare two at /api/similarity")
        if not 0 <= score_thresh <= 1:
            raise ValueError(f"score_thresh must be between 0 and 1; got {score_thresh}")
        async with _saved([file], app.state.uploads, max_upload_bytes) as (path,):
            answer = await gate.run(_predict, catalog, entry, path, score_thresh)
        return {"model": entry.id, "kind": entry.kind, **answer}

    @app.post("/api/similarity")
    async def similarity(
        file_a: Annotated[UploadFile, File()],
        file_b: Annotated[UploadFile, File()],
        model: Annotated[str | None, Form()] = None,
    ) -> dict[str, Any]:
        entry = catalog.get(model, "embedding")
        async with _saved([file_a, file_b], app.state.uploads, max_upload_bytes) as paths:
            vectors = await gate.run(lambda: catalog.load(entry).run(list(paths)))
        cosine = float((vectors[0] * vectors[1]).sum() / (vectors.norm(dim=1).prod() + 1e-12))
        return {"model": entry.id, "kind": entry.kind, "similarity": round(cosine, 4)}

    @app.post("/api/latency")
    async def latency(model: Annotated[str | None, Form()] = None) -> dict[str, Any]:
        entry = catalog.get(model)
        rows = await gate.run(_latencies, catalog, entry)
        return {"model": entry.id, "name": entry.name, "rows": rows}

    return app


def _too_large(limit: int) -> str:
    return f"the upload is over the {limit // (1024 * 1024)} MB limit"


@contextlib.asynccontextmanager
async def _saved(
    files: Sequence[UploadFile], folder: Path, limit: int
) -> AsyncIterator[tuple[Path, ...]]:
    """The uploads written under random names in ``folder`` (at most ``limit`` bytes each),
    removed afterwards; the names the user gave stand for them in every message."""
    paths = []
    try:
        for upload in files:
            path = folder / secrets.token_hex(12)
            paths.append(path)
            size = 0
            with open(path, "xb") as out:
                while chunk := await upload.read(CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise HTTPException(413, _too_large(limit))
                    out.write(chunk)
        try:
            yield tuple(paths)
        except UnreadableImage as error:
            message = str(error)
            for path, upload in zip(paths, files):
                message = message.replace(str(path), _shown_name(upload))
            raise ValueError(message) from None
    finally:
        for path in paths:
            path.unlink(missing_ok=True)


def _shown_name(upload: UploadFile) -> str:
    return printable(Path(upload.filename or "").name, limit=120) or "the upload"


def _predict(
    catalog: Catalog, entry: ModelEntry, path: Path, score_thresh: float
) -> dict[str, Any]:
    loaded = catalog.load(entry)
    if entry.kind == "detection":
        return loaded.run(path, score_thresh=score_thresh)
    (row,) = loaded.run([path])
    if entry.kind == "geo":
        return {"top": row["top"]}
    return {
        "top": [
            {"label": top["class"], "index": top["index"], "probability": top["probability"]}
            for top in row["top"]
        ]
    }


def _latencies(catalog: Catalog, entry: ModelEntry) -> list[dict[str, Any]]:
    """Batch-1 median and p90 milliseconds of ``entry``'s network in each runtime of
    :data:`LATENCY_RUNTIMES` (deploy's benchmark), or why a runtime was skipped."""
    from ..deploy.latency import benchmark

    model = catalog.load(entry).model
    rows = []
    for runtime in LATENCY_RUNTIMES:
        try:
            result = benchmark(model, runtime, runs=LATENCY_RUNS, warmup=3)
        except Exception as error:  # a missing extra, or a network that runtime cannot export
            reason = first_line(error)
            rows.append({"runtime": runtime, "skipped": reason[:200]})
            continue
        median = result["median_ms"]
        rows.append(
            {
                "runtime": runtime,
                "median_ms": median if math.isfinite(median) else None,
                "p90_ms": result["p90_ms"],
                "threads": result["threads"],
            }
        )
    return rows
