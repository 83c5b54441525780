"""Bounds on the Hugging Face Hub client's patience: the client retries a 429 or 5xx answer
after sleeping for the server's ``Retry-After`` (an hour, if the server says so) and resumes a
stalled transfer again and again. Here a server error ends the download at once, naming the
answer, and no request starts later than the project's download timeout after the first. An
ETag that is not a plain name (the client stores the file under it) ends it too."""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from ..download import DEFAULT_TIMEOUT
from ..messages import printable

# HTTP answers the Hub client would wait on and retry: here they end the download.
RETRIED_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
# What the Hub's ETags are (a sha256 or a git blob id): letters, digits, '-' and '_'.
_PLAIN_ETAG = re.compile(r"[A-Za-z0-9_-]{1,128}")
_deadline: ContextVar[float | None] = ContextVar("hub_deadline", default=None)
_installed = False


class HubGaveUp(Exception):
    """The Hub server answered with an error, or a transfer broke off and did not resume in time."""


def _refuse_late_requests(request: Any) -> None:
    deadline = _deadline.get()
    if deadline is not None and time.monotonic() > deadline:
        raise HubGaveUp(
            f"{request.url.host} stopped sending and the transfer did not resume within "
            f"{DEFAULT_TIMEOUT:g} s"
        )


def _refuse_bad_answers(response: Any) -> None:
    """A retried status ends the download; so does an ETag that is not a plain file name, since
    the client stores the file under it (``blobs/<etag>``): ``../`` would write outside the cache."""
    etag = response.headers.get("ETag")
    if etag is not None and not _PLAIN_ETAG.fullmatch(etag.removeprefix("W/").strip('"')):
        raise HubGaveUp(
            f"{response.request.url.host} answered an ETag that is not a file name "
            f"({printable(etag, limit=80)}); refusing to store the file under it"
        )
    if response.status_code in RETRIED_STATUSES:
        retry_after = response.headers.get("Retry-After")
        wait = f" (Retry-After: {retry_after} s)" if retry_after else ""
        raise HubGaveUp(
            f"{response.request.url.host} answered {response.status_code} "
            f"{response.reason_phrase}{wait}; try again later"
        )


def _install(hub: Any) -> None:
    """Adds the two hooks to every client the Hub library makes from now on in this process."""
    global _installed
    if _installed:
        return
    from huggingface_hub.utils import _http

    base = _http.default_client_factory

    def bounded_client() -> Any:
        client = base()
        client.event_hooks = {
            "request": [*client.event_hooks["request"], _refuse_late_requests],
            "response": [*client.event_hooks["response"], _refuse_bad_answers],
        }
        return client

    hub.set_client_factory(bounded_client)
    _installed = True


@contextlib.contextmanager
def bounded_hub_requests(hub: Any) -> Iterator[None]:
    """Within the block, Hub requests end on a retried status and none starts after the
    project's download timeout (30 s) from the block's start; the client's retry warnings are
    kept off stderr (the failure is one line of ours)."""
    _install(hub)
    token = _deadline.set(time.monotonic() + DEFAULT_TIMEOUT)
    logger = logging.getLogger("huggingface_hub")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
        _deadline.reset(token)
