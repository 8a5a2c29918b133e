"""The HTML page of ``dunning simulate``: the run's parameters, its figures and its plots.

The figures are the grids the terminal shows (:mod:`.tables`) — every policy
and strategy side by side, the roll rates, the holdout comparison — so the
page and the terminal never disagree; each plot is listed with its caption.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path

from dunning.core.simulation.plots import caption
from dunning.core.simulation.tables import Grid

__all__ = ["write_html"]

#: The page's style: readable tables, plots in a row where they fit.
_STYLE = """body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}
caption{font-weight:bold;text-align:left;padding:4px 0}
td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}th{text-align:left}
figure{display:inline-block;margin:1em}img{max-width:640px}"""


def write_html(
    out: Path, title: str, facts: Mapping[str, str], grids: Sequence[Grid], images: Sequence[Path]
) -> Path:
    """Write ``index.html`` into ``out``: the facts, the grids, then the plots; return its path."""
    out.mkdir(parents=True, exist_ok=True)
    e = html.escape
    params = "".join(f"<li>{e(k)}: {e(v)}</li>" for k, v in facts.items())
    tables = "\n".join(_table(grid) for grid in grids)
    listed = "".join(f'<li><a href="{e(p.name)}">{e(p.name)}</a>: {e(caption(p.name))}</li>' for p in images)
    figures = "".join(
        f'<figure><img src="{e(p.name)}" alt="{e(caption(p.name))}">'
        f"<figcaption>{e(caption(p.name))}</figcaption></figure>"
        for p in images
    )
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>dunning simulate</title>
<style>{_STYLE}</style></head>
<body><h1>dunning simulate: {e(title)}</h1>
<ul>{params}</ul>
{tables}
<h2>Plots</h2>
<ul>{listed}</ul>
{figures}
</body></html>
"""
    path = out / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def _table(grid: Grid) -> str:
    e = html.escape
    head = "".join(f"<th>{e(name)}</th>" for name in grid.columns)
    rows = "".join(
        f"<tr><th>{e(label)}</th>{''.join(f'<td>{e(cell)}</td>' for cell in cells)}</tr>"
        for label, cells in grid.rows
    )
    return f"<table><caption>{e(grid.title)}</caption><tr><th>figure</th>{head}</tr>{rows}</table>"
