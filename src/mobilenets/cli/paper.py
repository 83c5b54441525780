"""`mobilenets paper`: every architecture-determined cost cell of the paper beside what is measured."""

from __future__ import annotations

import argparse
import sys

from ..detection.paper_rows import table13_cells
from ..embedding.paper_rows import table12_cells, table14_cells
from ..paper import Cell, failures, paper_cells
from .common import add_json_argument, emit

AREA = "models and cost"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "paper",
        help="the paper's cost tables vs measured; exit 1 if a MobileNet cell is off by > 1%%",
    )
    parser.add_argument(
        "--no-baselines", action="store_true", help="skip the torchvision comparison networks"
    )
    add_json_argument(parser)
    parser.set_defaults(handler=run)


def collect_cells(baselines: bool = True) -> list[Cell]:
    """The cells of every table this installation can measure."""
    return paper_cells(baselines=baselines) + table12_cells() + table13_cells() + table14_cells()


def run(args: argparse.Namespace) -> int:
    cells = collect_cells(baselines=not args.no_baselines)
    emit([cell.to_dict() for cell in cells], args.json, lambda _: format_cells(cells))
    wrong = failures(cells)
    for cell in wrong:
        print(
            f"mobilenets paper: Table {cell.table}, {cell.row}, {cell.column}: paper {cell.paper}, "
            f"measured {cell.measured}",
            file=sys.stderr,
        )
    return 1 if wrong else 0


def _measured(cell: Cell) -> str:
    if isinstance(cell.measured, str):
        return cell.measured
    return f"{cell.measured:,.0f}" if abs(cell.measured) >= 1e5 else f"{cell.measured:.3f}"


def format_cells(cells: list[Cell]) -> str:
    lines = [
        f"{'table':<9}{'row':<30}{'column':<14}{'paper':>12}{'measured':>14}{'diff':>8}  status"
    ]
    table = None
    for cell in cells:
        if cell.table != table:
            table = cell.table
            lines.append("")
        diff = "" if cell.rel_diff is None else f"{100 * cell.rel_diff:+.1f}%"
        status = "ok" if cell.ok else ("OFF" if cell.checked else "differs")
        line = (
            f"{cell.table:<9}{cell.row[:29]:<30}{cell.column:<14}{cell.paper:>12}{_measured(cell):>14}{diff:>8} "
            f" {status}"
        )
        lines.append(line + (f"  ({cell.note})" if cell.note and not cell.ok else ""))
    checked = [cell for cell in cells if cell.checked]
    lines += [
        "",
        f"{sum(cell.ok for cell in checked)} of {len(checked)} checked MobileNet cells agree with the paper "
        f"(beyond the printed figure's truncation, within 1%; Table 13's detectors within 10%); "
        f"{sum(not c.checked for c in cells)} cells shown for reference.",
    ]
    return "\n".join(lines)
