"""Analysts' deliverables, regenerated from the published marts after each publication.

Pure functions (no Dagster): :func:`generate` writes, under the warehouse folder,

- ``rapport/bilan_<exercice>.html`` (and ``.pdf`` when a headless Chromium is installed): the
  Bilan de l'Insertion of each published exercise, in French, self-contained;
- ``rapport/synthese_<exercice>.xlsx``: one sheet per published table, that exercise's rows;
- ``parquet/<table>.parquet``: every published table.

A deliverable that the marts no longer back is deleted: the report and workbook of an exercise
whose folder was removed (it is no longer published), and a PDF left by an earlier run when this
one prints none (no Chromium any more), and a temporary copy an hour old (a killed run's).
Officials open these files; one that outlives the figures it prints is a wrong number in front of
them.

Figures are read from ``marts.duckdb`` opened read-only; the data-quality section reads
aggregates of the internal warehouse (read-only too). Modules: :mod:`.fr` (French formatting),
:mod:`.svg` (charts), :mod:`.data`, :mod:`.html`, :mod:`.exports`, :mod:`.chromium`,
:mod:`.views` (the SQL views published in marts.duckdb).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from dagster_project.reporting import chromium, data, exports, html

log = logging.getLogger(__name__)

RAPPORT_DIR = "rapport"
PARQUET_DIR = "parquet"
# the per-exercise deliverables this module writes in RAPPORT_DIR (and so may delete)
_DELIVERABLE = re.compile(r"(?:bilan_\d{4}\.(?:html|pdf)|synthese_\d{4}\.xlsx)")
# their temporary copies (written, then renamed): one an hour old was left by a killed run
_TEMPORARY = re.compile(r"\.(?:bilan|synthese)_\d{4}\.(?:html|pdf|xlsx)(?:\.[0-9a-f]{32})?\.tmp")
_TEMPORARY_AGE_S = 3600


@dataclass
class Outputs:
    html: dict[int, Path] = field(default_factory=dict)
    pdf: dict[int, Path] = field(default_factory=dict)
    xlsx: dict[int, Path] = field(default_factory=dict)
    parquet: dict[str, Path] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)


def _write_text(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
    tmp.write_text(text, encoding="utf-8")
    os.chmod(tmp, 0o644)
    os.replace(tmp, target)


def generate(
    marts_path: Path,
    out_dir: Path,
    warehouse_path: Path | None = None,
    checks: list[dict[str, Any]] | None = None,
    run_id: str = "",
    pdf: bool | None = None,
) -> Outputs:
    """Write every deliverable of every exercise published in ``marts_path`` under ``out_dir``.

    ``checks``: the asset-check evaluations of the Dagster run (dicts with asset, check, passed,
    severity, famille, description), shown in the data-quality section when given. ``pdf``:
    True requires a PDF, False skips it, None (default) makes one when Chromium is installed.
    """
    marts_path, out_dir = Path(marts_path), Path(out_dir)
    out = Outputs()
    rapport = out_dir / RAPPORT_DIR
    navigateur = chromium.find_chromium() if pdf is not False else None
    if pdf and not navigateur:
        raise RuntimeError(f"PDF demandé mais {chromium.why_not_found()}")
    if pdf is None and not navigateur:
        msg = (f"PDF du rapport non produit : {chromium.why_not_found()} ; "
               "le rapport HTML est produit.")
        log.warning(msg)
        out.warnings.append(msg)
    now = datetime.now()
    with data.read_only(marts_path) as con:
        exercices = [r[0] for r in con.execute(
            "SELECT DISTINCT exercice FROM synthese_thematiques ORDER BY 1").fetchall()]
        marts = {ex: data.lire_marts(con, ex) for ex in exercices}
        out.parquet = exports.write_parquet(con, out_dir / PARQUET_DIR)
        for ex in exercices:
            out.xlsx[ex] = exports.write_xlsx(con, ex, rapport / f"synthese_{ex}.xlsx")
    for ex in exercices:
        qualite = data.lire_qualite(warehouse_path, ex, checks)
        page = html.render(marts[ex], qualite, genere_le=now, run_id=run_id)
        target = rapport / f"bilan_{ex}.html"
        _write_text(target, page)
        out.html[ex] = target
        if navigateur:
            out.pdf[ex] = chromium.print_pdf(target, rapport / f"bilan_{ex}.pdf", navigateur)
    out.removed = _remove_stale(rapport, out)
    return out


def _remove_stale(rapport: Path, out: Outputs) -> list[Path]:
    """Delete the deliverables in ``rapport`` that this generation did not write (see above)."""
    written = {p.name for kind in (out.html, out.pdf, out.xlsx) for p in kind.values()}
    removed = []
    now = time.time()
    for path in sorted(rapport.iterdir()) if rapport.is_dir() else []:
        stale = _DELIVERABLE.fullmatch(path.name) and path.name not in written
        if _TEMPORARY.fullmatch(path.name):
            with contextlib.suppress(OSError):
                stale = now - path.stat().st_mtime > _TEMPORARY_AGE_S
        if stale:
            path.unlink(missing_ok=True)
            log.info("deliverable no longer backed by the published marts, deleted: %s", path)
            removed.append(path)
    return removed
