"""`mobilenets serve`: the local web page and JSON API, thin over mobilenets.serve."""

from __future__ import annotations

import argparse
import ipaddress
import sys

from ..extras import require
from ..ranges import count
from .common import number

AREA = "serve"

LOOPBACK = "127.0.0.1"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="a local web page (and JSON API) to try models on photos",
        description="Serves a page at http://HOST:PORT/ to drop photos on and see what the given "
        "models make of them (top-5, boxes, similarity, place), their latency here and the "
        "results of sweeps and export reports as a chart; /api/predict answers scripts in JSON.",
    )
    parser.add_argument(
        "--checkpoint",
        action="append",
        default=[],
        metavar="RUN",
        help="a run folder or checkpoint file of train, train-detector, train-embedding or "
        "train-geo (repeatable)",
    )
    parser.add_argument(
        "--pretrained",
        action="append",
        default=[],
        metavar="PATH",
        help="a weights file or pretrained folder (ImageNet classes; repeatable)",
    )
    parser.add_argument(
        "--results",
        action="append",
        default=[],
        metavar="DIR",
        help="a folder of sweep results.json, export-report report.json or adapt/results.json "
        "to chart (repeatable); its checkpoints become loadable",
    )
    parser.add_argument(
        "--host",
        default=LOOPBACK,
        help=f"address to listen on (default {LOOPBACK}: this machine only); another opens "
        "the page to the network, without authentication",
    )
    parser.add_argument(
        "--port", type=number(count(0, 65535)), default=8000, help="TCP port (default 8000)"
    )
    parser.add_argument(
        "--queue",
        type=number(count(0, 1000)),
        default=8,
        help="requests that may wait for the model; more are refused with 503 (default 8)",
    )
    parser.set_defaults(handler=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    require("fastapi", "serve", "mobilenets serve")
    uvicorn = require("uvicorn", "serve", "mobilenets serve")
    from ..serve import Catalog, create_app

    if not (args.checkpoint or args.pretrained or args.results):
        raise ValueError(
            "nothing to serve: give --checkpoint RUN, --pretrained PATH or --results DIR"
        )
    if not _is_loopback(args.host):
        print(
            f"warning: serving on {args.host}: anyone who can reach this address can use the page "
            "and the machine's CPU (no authentication)",
            file=sys.stderr,
        )
    app = create_app(Catalog(args.checkpoint, args.pretrained), args.results, queue=args.queue)
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"serving on http://{host}:{args.port}/ (Ctrl-C stops)", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
