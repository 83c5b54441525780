"""safetensors files and the Hugging Face Hub: reading and writing weights without pickle,
downloading through the Hub client (its cache, ``HF_HUB_OFFLINE`` and ``HF_ENDPOINT`` as Hub
users know them), the ``save_pretrained`` folder layout (``config.json`` beside
``model.safetensors``, as timm and the Hub use) and pushing such a folder to the Hub.

Both packages are optional (the ``hub`` extra); a missing one is a one-line error naming it.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from ..extras import require
from ..files import atomic_directory, atomic_output, file_sha256
from ..messages import first_line
from ..regular_files import check_regular_file
from .hub_http import HubGaveUp, bounded_hub_requests

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
# The safetensors metadata key holding this package's config and pretrained_cfg (JSON).
METADATA_KEY = "mobilenets"
HUB_PREFIX = "hf-hub:"


def _safetensors_torch() -> Any:
    return require("safetensors.torch", "hub", "reading and writing safetensors files")


def _hub() -> Any:
    return require("huggingface_hub", "hub", "the Hugging Face Hub")


def read_safetensors(
    path: str | os.PathLike[str],
) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(tensors, metadata) of a safetensors file; a damaged file is a ValueError naming it."""
    _safetensors_torch()
    from safetensors import SafetensorError, safe_open

    check_regular_file(path, "safetensors")
    try:
        with safe_open(str(path), framework="pt") as file:
            tensors = {key: file.get_tensor(key) for key in file.keys()}  # noqa: SIM118
            return tensors, dict(file.metadata() or {})
    except (SafetensorError, OSError, ValueError) as error:
        raise ValueError(
            f"{path} is not a readable safetensors file (truncated or another format): {error}"
        ) from None


def config_from_metadata(metadata: Mapping[str, str], source: Any) -> dict[str, Any] | None:
    """The ``{config, pretrained_cfg}`` this package writes into a file's metadata, or None."""
    if METADATA_KEY not in metadata:
        return None
    try:
        found = json.loads(metadata[METADATA_KEY])
        return {"config": dict(found["config"]), "pretrained_cfg": dict(found["pretrained_cfg"])}
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(
            f"{source}: its {METADATA_KEY!r} metadata is not this package's config ({error})"
        ) from None


def write_safetensors(
    checkpoint: Mapping[str, Any], path: str | os.PathLike[str], *, force: bool = False
) -> Path:
    """A converted checkpoint (``model``, ``config``, ``pretrained_cfg``) as one safetensors file,
    the config in its metadata; written atomically, an existing file replaced only with ``force``."""
    safetensors_torch = _safetensors_torch()
    description = json.dumps(
        {"config": checkpoint["config"], "pretrained_cfg": checkpoint["pretrained_cfg"]}
    )
    tensors = {key: tensor.contiguous() for key, tensor in checkpoint["model"].items()}
    with atomic_output(path, force=force) as temporary:
        safetensors_torch.save_file(
            tensors, str(temporary), metadata={"format": "pt", METADATA_KEY: description}
        )
    return Path(path)


def write_pretrained_folder(
    checkpoint: Mapping[str, Any], folder: str | os.PathLike[str], *, force: bool = False
) -> Path:
    """``folder`` with ``model.safetensors`` and ``config.json`` (the model's arguments and
    ``pretrained_cfg``), the layout the Hub and timm use. The folder is written whole or not at
    all; an existing one is replaced only with ``force``."""
    config = {
        "architecture": "mobilenet_v1",
        "library_name": "mobilenets",
        "model_args": checkpoint["config"],
        "num_classes": checkpoint["config"]["num_classes"],
        "pretrained_cfg": checkpoint["pretrained_cfg"],
    }
    with atomic_directory(folder, force=force) as staging:
        write_safetensors(checkpoint, staging / WEIGHTS_FILE)
        (staging / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
    return Path(folder)


def hub_download(
    repo_id: str, filename: str, *, sha256: str | None = None, revision: str | None = None
) -> Path:
    """The Hub file, from the Hugging Face cache or downloaded into it; every failure (offline
    without the file, no such repository or file, a wrong hash) is one ValueError line."""
    hub = _hub()
    from huggingface_hub import constants, errors

    where = f"{repo_id}/{filename}" + (f"@{revision}" if revision else "")
    started = time.time()
    try:
        with bounded_hub_requests(hub):
            path = Path(hub.hf_hub_download(repo_id, filename, revision=revision))
    except HubGaveUp as error:
        _remove_incomplete(repo_id, since=started)
        raise ValueError(f"could not download {where}: {error}") from None
    except errors.LocalEntryNotFoundError:
        if constants.is_offline_mode():
            raise ValueError(
                f"{where} is not in the Hugging Face cache ({constants.HF_HUB_CACHE}) and HF_HUB_OFFLINE "
                "forbids downloading it: download it once online, or unset HF_HUB_OFFLINE"
            ) from None
        raise ValueError(
            f"could not reach {constants.ENDPOINT} for {where}, and it is not in the Hugging Face cache "
            f"({constants.HF_HUB_CACHE})"
        ) from None
    except errors.HFValidationError:
        raise ValueError(
            f"{repo_id!r} is neither a folder here nor a Hugging Face Hub repository id (OWNER/NAME)"
        ) from None
    except errors.RepositoryNotFoundError:
        raise ValueError(
            f"no Hugging Face Hub repository {repo_id} (or it is private: `hf auth login`)"
        ) from None
    except errors.RevisionNotFoundError:
        raise ValueError(f"the Hub repository {repo_id} has no revision {revision}") from None
    except errors.EntryNotFoundError:
        raise ValueError(f"the Hub repository {repo_id} has no file {filename}") from None
    except (errors.HfHubHTTPError, OSError) as error:
        _remove_incomplete(repo_id, since=started)
        raise ValueError(f"could not download {where}: {first_line(error)}") from None
    if sha256 is not None:
        actual = file_sha256(path)
        if actual != sha256.lower():
            raise ValueError(
                f"{where} ({path.resolve()}) has sha256 {actual}, not the expected {sha256.lower()}: "
                f"delete it from the Hugging Face cache to download it again"
            )
    return path


def _remove_incomplete(repo_id: str, *, since: float) -> None:
    """Drops the partial blobs and the empty snapshot folders a failed download of ``repo_id``
    left since ``since``: a failed download caches nothing (another process's older partial
    file is left alone)."""
    from huggingface_hub import constants
    from huggingface_hub.file_download import repo_folder_name

    repo = Path(constants.HF_HUB_CACHE) / repo_folder_name(repo_id=repo_id, repo_type="model")
    for partial in (repo / "blobs").glob("*.incomplete"):
        with contextlib.suppress(OSError):
            if partial.stat().st_mtime >= since - 1:
                partial.unlink()
    for snapshot in (repo / "snapshots").glob("*"):
        with contextlib.suppress(OSError):  # rmdir refuses a folder that holds a file
            if snapshot.stat().st_mtime >= since - 1:
                snapshot.rmdir()


def hub_folder(repo_id: str, *, revision: str | None = None) -> Path:
    """The Hub repository's ``model.safetensors`` and (if it has one) ``config.json``, in the
    cache: the snapshot folder holding them."""
    weights = hub_download(repo_id, WEIGHTS_FILE, revision=revision)
    try:
        hub_download(repo_id, CONFIG_FILE, revision=revision)
    except ValueError as error:
        if f"has no file {CONFIG_FILE}" not in str(error):
            raise
    return weights.parent


def push_to_hub(
    folder: str | os.PathLike[str],
    repo_id: str,
    *,
    private: bool = False,
    token: str | None = None,
    commit_message: str | None = None,
) -> str:
    """Uploads a ``save_pretrained`` folder to the Hub repository ``repo_id`` (created if
    absent); the commit's URL. Refuses without a token, offline, or with a folder that lacks the
    layout."""
    hub = _hub()
    from huggingface_hub import constants, errors

    folder = Path(folder)
    missing = [name for name in (WEIGHTS_FILE, CONFIG_FILE) if not (folder / name).is_file()]
    if missing:
        raise ValueError(
            f"{folder} is not a pretrained folder: it lacks {', '.join(missing)} "
            "(write one with `mobilenets convert ... --to folder` or `export --format pretrained`)"
        )
    if constants.is_offline_mode():
        raise ValueError("HF_HUB_OFFLINE is set: pushing to the Hub needs the network")
    token = token or hub.get_token()
    if not token:
        raise ValueError(
            "no Hugging Face token: log in with `hf auth login`, or set HF_TOKEN, to push to the Hub"
        )
    api = hub.HfApi(token=token)
    try:
        api.create_repo(repo_id, private=private, exist_ok=True)
        commit = api.upload_folder(
            folder_path=str(folder),
            repo_id=repo_id,
            commit_message=commit_message or "Upload MobileNet v1 weights (mobilenets)",
        )
    except (errors.HfHubHTTPError, OSError, ValueError) as error:
        raise ValueError(f"could not push {folder} to {repo_id}: {first_line(error)}") from None
    return str(getattr(commit, "commit_url", commit))
