"""Great Expectations suites: staged participants, staged mandates, synthesis mart.

Why this module exists: dbt tests check the warehouse row by row in SQL; these three suites
add a second, independent look at the same tables with Great Expectations (GX 1.x), whose
stored validation results and Data Docs give the Département a browsable, dated record of
every nightly check. Three constraints shape the code:

* GX 1.x's SQL datasource returns no results on DuckDB (a known GX bug), so the tables are
  read from DuckDB into pandas DataFrames by the caller and validated as DataFrames.
* ``import great_expectations`` takes ~5 s, so it is imported lazily inside the functions that
  need it: importing this module stays fast (a test enforces it). dagster-ge does not support
  GX 1.x, so this module has no Dagster import; Dagster ``@asset_check``s wrap :func:`run_suite`.
* Personal data: participant identifiers must never reach GX. :func:`prepare_frame` keeps only
  the columns the expectations need and replaces ``identifiant`` with a boolean
  ``identifiant_present``; results are asked in ``BASIC`` format with no unexpected-value samples
  (``partial_unexpected_count = 0``), so neither the stored validation JSON nor the Data Docs
  HTML hold any data value - only counts, the suites' own parameters and observed row counts.
  Where a failed mandates or synthesis expectation fails (export file and line, exercise and
  thematic) is found again in pandas, only for the message: :func:`_locate`.

Public API::

    SUITE_NAMES                       ("participants", "mandats", "synthese_thematiques")
    SUITE_MODELS                      suite name -> dbt model it validates
    run_suite(name, df, *, gx_dir, build_docs=True, run_name=None) -> SuiteResult
    import_in_background() -> Thread | None   (GX imported while dbt builds)
    prepare_frame(name, df) -> DataFrame      (what GX actually sees)
    build_expectations(name, df) -> list      (the suite, as GX Expectation objects)

``run_suite`` never raises: any failure (missing column, GX error, unreadable context...) gives
``SuiteResult.success == False`` with the error message. An expectation that raised, or whose
result lacks the value it must report (``unexpected_count`` for row-wise expectations,
``observed_value`` for table-level ones), counts as failed, never as a pass.
"""

from __future__ import annotations

import contextlib
import csv
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from dagster_project import warm_imports

if TYPE_CHECKING:  # pragma: no cover - typing only, keeps import time low
    import pandas as pd

__all__ = [
    "SUITE_NAMES",
    "SUITE_MODELS",
    "RESULT_FORMAT",
    "ExpectationOutcome",
    "SuiteResult",
    "build_expectations",
    "prepare_frame",
    "run_suite",
]

SEEDS_DIR = Path(__file__).resolve().parents[2] / "dbt" / "seeds"

SUITE_NAMES: tuple[str, ...] = ("participants", "mandats", "synthese_thematiques")
SUITE_MODELS: dict[str, str] = {
    "participants": "staging.stg_operateurs__participants",
    "mandats": "staging.stg_finances__mandats",
    "synthese_thematiques": "marts.fct_synthese_thematiques",
}

# No sample of unexpected values anywhere (result JSON, Data Docs): counts only. Any value may be
# an identifier typed in the wrong column (a payment amount equal to a participant's number was
# found stored by a run that asked for samples).
RESULT_FORMAT: dict[str, Any] = {
    "result_format": "BASIC",
    "partial_unexpected_count": 0,
    "include_unexpected_rows": False,
}
# Where a failed row-wise expectation fails, for the mandates and the synthesis: up to EXAMPLES
# of its rows by these columns only (the export's file and line, the synthesis' key), found again
# in pandas, never stored (_locate).
EXAMPLES = 3
WHERE_COLUMNS: dict[str, tuple[str, ...]] = {
    "mandats": ("source_file", "source_row"),
    "synthese_thematiques": ("exercice", "code_thematique"),
}

NATURES_MANDAT = ("Avance", "Solde", "Avenant", "Annulation")
TYPES_ACTION = ("PRO", "SOC", "RU")
MONTANT_MIN, MONTANT_MAX = -10_000_000, 10_000_000
RE_CONVENTION = r"^PDI-\d{4}-\d{4,}$"
RE_SIRET = r"^\d{14}$"

# Data Docs: one local static site. The index page lists only the most recent validation
# results: GX re-reads every listed result JSON each time it rebuilds the index, so without a
# limit the nightly build would slow down as history accumulates (~4 s at 900 results).
# Older result pages stay on disk, reachable from the file system.
DOCS_SITE = "local_site"
DOCS_INDEX_LIMIT = 150
_DOCS_SITE_CONFIG: dict[str, Any] = {
    "class_name": "SiteBuilder",
    "show_how_to_buttons": False,
    "store_backend": {
        "class_name": "TupleFilesystemStoreBackend",
        "base_directory": f"uncommitted/data_docs/{DOCS_SITE}/",
    },
    "site_index_builder": {
        "class_name": "DefaultSiteIndexBuilder",
        "validation_results_limit": DOCS_INDEX_LIMIT,
    },
}

_DATASOURCE = "bilan_dataframes"
_BATCH_DEFINITION = "whole_dataframe"

# Columns handed to GX per suite (everything else, e.g. free-text motif_sortie_brut, is dropped).
_COLUMNS: dict[str, tuple[str, ...]] = {
    "participants": (
        "exercice",
        "num_convention",
        "identifiant_present",
        "date_entree",
        "date_sortie",
        "code_motif",
        "source_file",
        "source_sheet",
        "source_row",
    ),
    "mandats": (
        "exercice",
        "num_mandat",
        "date_emission",
        "num_convention",
        "siret",
        "nature",
        "montant",
        "source_file",
        "source_row",
    ),
    "synthese_thematiques": (
        "exercice",
        "code_thematique",
        "code_type_action",
        "nb_actions",
        "montant_paye_eur",
        "accompagnements",
        "fins_accompagnement",
        "sorties_emploi_formation",
    ),
}

# Expectation types whose result must carry an observed_value (table / aggregate level);
# all others used here are row-wise ("map") expectations and must carry unexpected_count.
_AGGREGATE_TYPES = frozenset(
    {"expect_table_row_count_to_be_between", "expect_table_row_count_to_equal"}
)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ExpectationOutcome:
    expectation_type: str
    columns: tuple[str, ...]
    success: bool
    observed_value: Any = None
    unexpected_count: int | None = None
    error_message: str | None = None
    description: str = ""
    expected: str | None = None  # what the expectation asks, when its arguments say it
    examples: tuple[str, ...] = ()  # where some failing rows are (WHERE_COLUMNS suites only)

    @property
    def observed(self) -> str:
        """What was found, in the words of a failed check: rows breaking the rule, or the value."""
        if self.error_message:
            return f"erreur : {self.error_message}"
        if self.unexpected_count is not None:
            return f"{self.unexpected_count} ligne(s) hors règle"
        return str(self.observed_value)

    @property
    def attendu(self) -> str | None:
        """What was expected: the bound or value, or no row breaking a row-wise rule."""
        if self.expected is not None:
            return self.expected
        return "0 ligne hors règle" if self.expectation_type not in _AGGREGATE_TYPES else None

    def line(self) -> str:
        """One line: the rule (its notes), the expectation, observed vs expected, examples."""
        cols = f"({self.column})" if self.column else ""
        head = f"{self.description} [{self.expectation_type}{cols}]" if self.description else (
            f"{self.expectation_type}{cols}")
        said = f"{head} : observé {self.observed}"
        if self.attendu is not None and not self.error_message:
            said += f" / attendu {self.attendu}"
        if self.examples:
            said += " ; ex. " + " ; ".join(self.examples)
        return said

    @property
    def column(self) -> str | None:
        """The checked column(s) as one string ("a" or "a, b"), None for table-level ones."""
        return ", ".join(self.columns) if self.columns else None


@dataclass(frozen=True)
class SuiteResult:
    suite_name: str
    success: bool
    outcomes: list[ExpectationOutcome] = field(default_factory=list)
    data_docs_index: Path | None = None
    error_message: str | None = None
    duration_s: float = 0.0

    @property
    def failures(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success]

    def summary(self) -> str:
        """One line per failed expectation (or the global error), for logs and check metadata."""
        if self.error_message:
            return f"{self.suite_name}: ERROR {self.error_message}"
        if self.success:
            return f"{self.suite_name}: {len(self.outcomes)} expectations passed"
        lines = [f"{self.suite_name}: {len(self.failures)}/{len(self.outcomes)} failed"]
        lines += [f"  - {o.line()}" for o in self.failures]
        return "\n".join(lines)


# --------------------------------------------------------------------------- reference data


@cache
def _seed_codes(seed: str, column: str) -> tuple[str, ...]:
    with open(SEEDS_DIR / seed, newline="", encoding="utf-8") as fh:
        return tuple(row[column].strip() for row in csv.DictReader(fh) if row[column].strip())


def _codes_motif() -> list[str]:
    return sorted(set(_seed_codes("motifs_sortie.csv", "code_motif")))


def _codes_thematique() -> list[str]:
    return sorted(set(_seed_codes("thematiques.csv", "code_thematique")))


# --------------------------------------------------------------------------- frames


def prepare_frame(name: str, df: pd.DataFrame) -> pd.DataFrame:
    """Return the frame GX will see: only the needed columns, no participant identifier.

    * participants: ``identifiant`` becomes ``identifiant_present`` (not null and not blank),
      so that the not-null check on the identifier is kept without the identifier itself.
    * mandats: the staging model may call the amount ``montant_eur``; it is renamed ``montant``.
    Missing columns are simply absent: the expectations on them then fail (never pass).
    """
    _check_name(name)
    frame = df
    if name == "participants" and "identifiant" in frame.columns:
        ident = frame["identifiant"]
        present = ident.notna() & (ident.astype("string").str.strip().fillna("") != "")
        frame = frame.assign(identifiant_present=present.astype(bool))
    if name == "mandats" and "montant" not in frame.columns and "montant_eur" in frame.columns:
        frame = frame.rename(columns={"montant_eur": "montant"})
    keep = [c for c in _COLUMNS[name] if c in frame.columns]
    return frame.loc[:, keep].reset_index(drop=True)


def frame_query(name: str, relation: str, columns: dict[str, str]) -> str:
    """The SQL that reads from ``relation`` (its ``columns``: name → DuckDB type) only what suite
    ``name`` checks, shaped as :func:`prepare_frame` would leave it.

    Why not ``SELECT *``: at SCALE=100 the staged participants are millions of rows; every
    unneeded text column costs a Python string per row in the frame (gigabytes). The identifier
    is reduced to ``identifiant_present`` in SQL (it never reaches pandas), decimals are read as
    doubles (as DuckDB's ``.df()`` does). A column the suite needs but the relation lacks is
    simply not read: its expectations then fail (never pass).
    """
    _check_name(name)
    select = []
    for c in _COLUMNS[name]:
        if c == "identifiant_present" and "identifiant" in columns:
            # blank = only whitespace of any kind (tab, newline, no-break space…), as str.strip()
            select.append(
                "(identifiant IS NOT NULL AND NOT regexp_matches("
                "CAST(identifiant AS VARCHAR), '^[\\s\\p{Z}]*$')) AS identifiant_present"
            )
            continue
        src = c
        if c == "montant" and c not in columns and "montant_eur" in columns:
            src = "montant_eur"
        if src not in columns:
            continue
        expr = f'"{src}"'
        if columns[src].upper().startswith("DECIMAL"):
            expr = f"CAST({expr} AS DOUBLE)"
        select.append(f'{expr} AS "{c}"')
    return f"SELECT {', '.join(select) or 'NULL AS aucune_colonne'} FROM {relation}"


def read_frame(con: Any, name: str, relation: str) -> pd.DataFrame:
    """Read from DuckDB (connection ``con``) the frame suite ``name`` validates on ``relation``.

    Only the checked columns (:func:`frame_query`); text as pandas categoricals (one Python
    string per distinct value, not per row), dates as datetime64: the participants of a
    SCALE=100 drop fit in tens of megabytes instead of gigabytes.
    """
    columns = dict(
        con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {relation})").fetchall()
    )
    table = con.execute(frame_query(name, relation, columns)).to_arrow_table()
    return table.to_pandas(strings_to_categorical=True, date_as_object=False)


def _check_name(name: str) -> None:
    if name not in SUITE_NAMES:
        raise ValueError(f"unknown suite {name!r}; expected one of {SUITE_NAMES}")


# --------------------------------------------------------------------------- suites


def build_expectations(name: str, df: pd.DataFrame | None = None) -> list[Any]:
    """The expectations of suite ``name`` (GX 1.x Expectation objects).

    ``df`` is the prepared frame; only ``synthese_thematiques`` needs it, to compute the expected
    row count (19 thematics x number of distinct exercices) before validation.
    """
    _check_name(name)
    gxe, Column = _gx_expectations()
    builders = {
        "participants": _participants,
        "mandats": _mandats,
        "synthese_thematiques": _synthese,
    }
    return builders[name](gxe, Column, df)


def _not_null(gxe: Any, columns: tuple[str, ...]) -> list[Any]:
    return [
        gxe.ExpectColumnValuesToNotBeNull(column=c, notes=f"`{c}` jamais nul") for c in columns
    ]


def _participants(gxe: Any, Column: Any, df: pd.DataFrame | None) -> list[Any]:
    return [
        gxe.ExpectTableRowCountToBeBetween(min_value=1, notes="au moins un participant"),
        *_not_null(gxe, ("exercice", "num_convention", "date_entree", "source_file", "source_row")),
        gxe.ExpectColumnValuesToBeInSet(
            column="identifiant_present",
            value_set=[True],
            notes="`identifiant` jamais nul ni vide (vérifié comme booléen : aucun "
            "identifiant ne parvient à GX)",
        ),
        gxe.ExpectColumnValuesToMatchRegex(
            column="num_convention",
            regex=RE_CONVENTION,
            notes="`num_convention` de la forme PDI-AAAA-NNNN",
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="code_motif",
            value_set=_codes_motif(),
            notes="`code_motif`, s'il est renseigné, est un code de motifs_sortie.csv",
        ),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="date_sortie",
            column_B="date_entree",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
            notes="date de sortie postérieure ou égale à la date d'entrée (lignes sans sortie "
            "ignorées)",
        ),
        gxe.ExpectCompoundColumnsToBeUnique(
            column_list=["source_file", "source_sheet", "source_row"],
            notes="un participant par ligne source (lignage unique)",
        ),
    ]


def _mandats(gxe: Any, Column: Any, df: pd.DataFrame | None) -> list[Any]:
    return [
        gxe.ExpectTableRowCountToBeBetween(min_value=1, notes="au moins un mandat"),
        *_not_null(
            gxe,
            (
                "exercice",
                "num_mandat",
                "date_emission",
                "num_convention",
                "nature",
                "montant",
                "source_file",
                "source_row",
            ),
        ),
        gxe.ExpectCompoundColumnsToBeUnique(
            column_list=["exercice", "num_mandat"],
            notes="`num_mandat` unique dans l'exercice",
        ),
        gxe.ExpectCompoundColumnsToBeUnique(
            column_list=["source_file", "source_row"],
            notes="un mandat par ligne de l'export (lignage unique)",
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="nature",
            value_set=list(NATURES_MANDAT),
            notes="`nature` : Avance, Solde, Avenant ou Annulation",
        ),
        gxe.ExpectColumnValuesToMatchRegex(
            column="siret",
            regex=RE_SIRET,
            notes="`siret` de 14 chiffres",
        ),
        gxe.ExpectColumnValuesToMatchRegex(
            column="num_convention",
            regex=RE_CONVENTION,
            notes="`num_convention` de la forme PDI-AAAA-NNNN",
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="montant",
            min_value=MONTANT_MIN,
            max_value=MONTANT_MAX,
            notes="montant entre -10 et +10 M€",
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="montant",
            min_value=0,
            row_condition=Column("nature") != "Annulation",
            notes="seule une Annulation peut être négative",
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="montant",
            max_value=0,
            strict_max=True,
            row_condition=Column("nature") == "Annulation",
            notes="une Annulation est négative",
        ),
    ]


def _synthese(gxe: Any, Column: Any, df: pd.DataFrame | None) -> list[Any]:
    codes = _codes_thematique()
    n_exercices = 0
    if df is not None and "exercice" in df.columns:
        n_exercices = int(df["exercice"].nunique(dropna=True))
    expected_rows = len(codes) * n_exercices
    return [
        gxe.ExpectTableRowCountToBeBetween(min_value=1, notes="au moins une ligne"),
        # With (exercice, code_thematique) unique and code_thematique in the 19 codes, a total of
        # 19 x distinct exercices rows means exactly 19 rows in every exercice.
        gxe.ExpectTableRowCountToEqual(
            value=expected_rows,
            notes=f"{len(codes)} thématiques x {n_exercices} exercice(s) = {expected_rows} "
            f"lignes, soit exactement {len(codes)} lignes par exercice",
        ),
        *_not_null(gxe, ("exercice", "code_thematique", "code_type_action")),
        gxe.ExpectCompoundColumnsToBeUnique(
            column_list=["exercice", "code_thematique"],
            notes="une ligne par exercice et thématique",
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="code_thematique",
            value_set=codes,
            notes="`code_thematique` est un code de thematiques.csv",
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="code_type_action",
            value_set=list(TYPES_ACTION),
            notes="`code_type_action` : PRO, SOC ou RU",
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="nb_actions",
            min_value=0,
            notes="`nb_actions` ≥ 0",
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="montant_paye_eur",
            min_value=0,
            notes="`montant_paye_eur` ≥ 0",
        ),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="accompagnements",
            column_B="fins_accompagnement",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
            notes="fins_accompagnement ≤ accompagnements",
        ),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="fins_accompagnement",
            column_B="sorties_emploi_formation",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
            notes="sorties_emploi_formation ≤ fins_accompagnement",
        ),
    ]


# --------------------------------------------------------------------------- GX plumbing


def _quiet_gx_env() -> None:
    os.environ["GX_ANALYTICS_ENABLED"] = "false"
    os.environ.setdefault("DO_NOT_TRACK", "1")


_GX_MODULES = ("great_expectations", "great_expectations.expectations")


def import_in_background() -> threading.Thread | None:
    """Start importing Great Expectations in a daemon thread; returns it (None: nothing to do).

    The import costs ~6 s of CPU, on the critical path of every run that reaches the checks.
    The dbt asset starts it when ``dbt build`` starts: dbt runs in its own process and this one
    mostly waits for its output, so the import is done by the time the checks run (measured on
    the 2017 drop: dbt finished -> publication 9 s -> 4 s). The checks wait for it before
    touching GX themselves (:mod:`dagster_project.warm_imports`).
    """
    _quiet_gx_env()
    return warm_imports.start(*_GX_MODULES)


def _await_background_import() -> None:
    warm_imports.wait(_GX_MODULES[-1])


def _gx_expectations() -> tuple[Any, Any]:
    _quiet_gx_env()
    _await_background_import()
    import great_expectations.expectations as gxe
    from great_expectations.expectations.row_conditions import Column

    return gxe, Column


@contextlib.contextmanager
def _lock(gx_dir: Path) -> Iterator[None]:
    """Serialise GX runs on one gx_dir across processes (GX rewrites great_expectations.yml)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - non-POSIX
        yield
        return
    with open(gx_dir / ".gx_suites.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _context(gx_dir: Path) -> Any:
    _quiet_gx_env()
    _await_background_import()
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="file", project_root_dir=str(gx_dir))
    variables = context.variables
    bars = variables.progress_bars
    bars_on = (
        bars.get("globally", True) if isinstance(bars, dict) else getattr(bars, "globally", True)
    )
    sites = variables.data_docs_sites or {}
    if (
        variables.config.analytics_enabled is not False
        or bars_on is not False
        or sites.get(DOCS_SITE) != _DOCS_SITE_CONFIG
    ):
        variables.config.analytics_enabled = False
        variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        variables.data_docs_sites = {**sites, DOCS_SITE: _DOCS_SITE_CONFIG}
        variables.save()
    return context


def _batch_definition(context: Any, asset_name: str) -> Any:
    datasource = None
    with contextlib.suppress(Exception):
        datasource = context.data_sources.get(_DATASOURCE)
    if datasource is None:
        datasource = context.data_sources.add_pandas(_DATASOURCE)
    try:
        asset = datasource.get_asset(asset_name)
    except LookupError:
        asset = datasource.add_dataframe_asset(asset_name)
    try:
        return asset.get_batch_definition(_BATCH_DEFINITION)
    except KeyError:
        return asset.add_batch_definition_whole_dataframe(_BATCH_DEFINITION)


def _docs_index(context: Any) -> Path | None:
    for site in context.get_docs_sites_urls() or []:
        url = site.get("site_url") or ""
        if url.startswith("file://"):
            path = Path(unquote(urlparse(url).path))
            if path.is_file():
                return path
    return None


def _columns_of(kwargs: dict[str, Any]) -> tuple[str, ...]:
    if kwargs.get("column"):
        return (kwargs["column"],)
    if kwargs.get("column_A"):
        return (kwargs["column_A"], kwargs["column_B"])
    if kwargs.get("column_list"):
        return tuple(kwargs["column_list"])
    return ()


def _error_of(exception_info: Any) -> str | None:
    """The exception message of a result, whatever shape GX gave exception_info."""
    if not exception_info:
        return None
    infos = [exception_info] if "raised_exception" in exception_info else exception_info.values()
    for info in infos:
        if isinstance(info, dict) and info.get("raised_exception"):
            return str(info.get("exception_message") or "expectation raised an exception")
    return None


def _notes_of(config: Any) -> str:
    notes = getattr(config, "notes", None) or ""
    return " ".join(notes) if isinstance(notes, list) else str(notes)


def _expected_of(kwargs: dict[str, Any]) -> str | None:
    """What an expectation asks, from its arguments (None: its notes say it)."""
    if kwargs.get("value") is not None:
        return str(kwargs["value"])
    lo, hi = kwargs.get("min_value"), kwargs.get("max_value")
    if lo is not None or hi is not None:
        def num(v: Any) -> str:
            return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)

        bounds = []
        if lo is not None:
            bounds.append(f"{'>' if kwargs.get('strict_min') else '≥'} {num(lo)}")
        if hi is not None:
            bounds.append(f"{'<' if kwargs.get('strict_max') else '≤'} {num(hi)}")
        return " et ".join(bounds)
    if kwargs.get("value_set") is not None:
        values = [str(v) for v in kwargs["value_set"]]
        return "dans {" + ", ".join(values[:8]) + (", …" if len(values) > 8 else "") + "}"
    if kwargs.get("regex"):
        return f"conforme à {kwargs['regex']}"
    return None


def _examples_of(rows: list[dict[str, Any]], where: tuple[str, ...]) -> tuple[str, ...]:
    """Where the first failing rows are, by ``where`` columns only (never the failing value)."""

    def text(v: Any) -> str:
        return "?" if v is None or (isinstance(v, float) and v != v) else str(v)

    out = []
    for row in rows[:EXAMPLES]:
        if where == ("source_file", "source_row"):
            out.append(f"{text(row['source_file'])} ligne {text(row['source_row'])}")
        else:
            out.append(", ".join(text(row[c]) for c in where))
    return tuple(out)


def _failing_rows(kwargs: dict[str, Any], etype: str, frame: pd.DataFrame) -> pd.Series | None:
    """The rows a row-wise expectation of the mandates or synthesis suites rejects, recomputed
    in pandas to say where they are (None: a type not handled here)."""
    import pandas as pd

    def col(c: str) -> pd.Series:
        return frame[c]

    cond = pd.Series(True, index=frame.index)
    rc = kwargs.get("row_condition")
    if rc:
        c, op, value = rc["column"]["name"], rc["operator"], rc["parameter"]
        if op not in ("==", "!="):
            return None
        cond = (col(c) == value) if op == "==" else (col(c) != value)
    if etype == "expect_column_values_to_not_be_null":
        bad = col(kwargs["column"]).isna()
    elif etype == "expect_column_values_to_be_between":
        v = pd.to_numeric(col(kwargs["column"]), errors="coerce").astype(float)
        lo, hi = kwargs.get("min_value"), kwargs.get("max_value")
        bad = pd.Series(False, index=frame.index)
        if lo is not None:
            bad |= (v <= lo) if kwargs.get("strict_min") else (v < lo)
        if hi is not None:
            bad |= (v >= hi) if kwargs.get("strict_max") else (v > hi)
        bad &= v.notna()
    elif etype == "expect_column_values_to_be_in_set":
        v = col(kwargs["column"])
        bad = v.notna() & ~v.isin(list(kwargs["value_set"]))
    elif etype == "expect_column_values_to_match_regex":
        v = col(kwargs["column"])
        bad = v.notna() & ~v.astype(str).str.contains(kwargs["regex"], regex=True)
    elif etype == "expect_compound_columns_to_be_unique":
        bad = frame.duplicated(list(kwargs["column_list"]), keep=False)
    elif etype == "expect_column_pair_values_a_to_be_greater_than_b":
        a, b = col(kwargs["column_A"]), col(kwargs["column_B"])
        bad = a.notna() & b.notna() & ((a < b) if kwargs.get("or_equal") else (a <= b))
    else:
        return None
    return bad & cond


def _locate(name: str, frame: pd.DataFrame, outcomes: list[ExpectationOutcome],
            configs: list[Any]) -> list[ExpectationOutcome]:
    """``outcomes`` (with their expectations' ``configs``, in the same order) with examples of
    where their failed row-wise expectations fail.

    GX is asked for counts only (nothing of the data is stored); for the :data:`WHERE_COLUMNS`
    suites, the failing rows are found again in pandas and named by those columns alone, and only
    when they are as many as GX counted (the same rows, then). Best effort: whatever goes wrong
    here leaves the outcomes as they are (the verdict is GX's)."""
    where = WHERE_COLUMNS.get(name)
    if not where or not set(where) <= set(frame.columns):
        return outcomes
    out = list(outcomes)
    for i, o in enumerate(outcomes):
        if o.success or o.error_message is not None or not o.unexpected_count:
            continue
        try:
            bad = _failing_rows(dict(configs[i].kwargs), configs[i].type, frame)
            if bad is None or int(bad.sum()) != o.unexpected_count:
                continue
            rows = frame.loc[bad, list(where)].head(EXAMPLES).to_dict("records")
        except Exception:  # noqa: BLE001 - examples are a help, never a reason to fail or pass
            continue
        out[i] = replace(o, examples=_examples_of(rows, where))
    return out


def _outcome(result: Any) -> ExpectationOutcome:
    config = result.expectation_config
    etype = config.type
    body = result.result or {}
    observed = body.get("observed_value")
    unexpected = body.get("unexpected_count")
    error = _error_of(result.exception_info)
    success = bool(result.success) and error is None
    if success and not body:
        success, error = False, "no result returned by GX"
    elif success and etype in _AGGREGATE_TYPES and observed is None:
        success, error = False, "no observed_value returned by GX"
    elif success and etype not in _AGGREGATE_TYPES and unexpected is None:
        success, error = False, "no unexpected_count returned by GX"
    return ExpectationOutcome(
        expectation_type=etype,
        columns=_columns_of(config.kwargs),
        success=success,
        observed_value=observed,
        unexpected_count=None if unexpected is None else int(unexpected),
        error_message=error,
        description=_notes_of(config),
        expected=_expected_of(config.kwargs),
    )


def _redact(result: SuiteResult, secrets: set[str]) -> SuiteResult:
    """Last line of defence: blank any message that quotes a participant identifier."""
    secrets = {s for s in secrets if len(s) >= 3}
    if not secrets:
        return result

    def clean(msg: str | None) -> str | None:
        if msg and any(s in msg for s in secrets):
            return "[message redacted: it quoted a participant identifier]"
        return msg

    outcomes = [
        o
        if clean(o.error_message) == o.error_message
        else replace(o, error_message=clean(o.error_message))
        for o in result.outcomes
    ]
    return SuiteResult(
        result.suite_name,
        result.success,
        outcomes,
        result.data_docs_index,
        clean(result.error_message),
        result.duration_s,
    )


def run_suite(
    name: str,
    df: pd.DataFrame,
    *,
    gx_dir: Path,
    build_docs: bool = True,
    run_name: str | None = None,
) -> SuiteResult:
    """Validate ``df`` against suite ``name`` in a file GX context under ``gx_dir``.

    Registers (creates or updates) the suite, its validation definition and checkpoint, runs it,
    stores the validation result (``gx_dir/gx/uncommitted/validations/``) and, when
    ``build_docs``, updates the Data Docs site (``gx_dir/gx/uncommitted/data_docs/local_site/``)
    whose ``index.html`` is returned. ``run_name`` (e.g. the Dagster run id) labels the result.
    Never raises.
    """
    started = time.perf_counter()
    secrets: set[str] = set()
    try:
        if name == "participants" and "identifiant" in getattr(df, "columns", ()):
            secrets = {str(v) for v in df["identifiant"].dropna().unique()}
        _check_name(name)
        gx_dir = Path(gx_dir)
        gx_dir.mkdir(parents=True, exist_ok=True)
        frame = prepare_frame(name, df)
        expectations = build_expectations(name, frame)
        with _lock(gx_dir):
            result = _run(name, frame, expectations, gx_dir, build_docs, run_name, started)
    except Exception as exc:  # noqa: BLE001 - contract: report, never raise
        result = SuiteResult(
            suite_name=name,
            success=False,
            error_message=f"{type(exc).__name__}: {exc}",
            duration_s=time.perf_counter() - started,
        )
    return _redact(result, secrets)


def _run(
    name: str,
    frame: pd.DataFrame,
    expectations: list[Any],
    gx_dir: Path,
    build_docs: bool,
    run_name: str | None,
    started: float,
) -> SuiteResult:
    _await_background_import()
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction
    from great_expectations.core.run_identifier import RunIdentifier

    context = _context(gx_dir)
    batch_definition = _batch_definition(context, name)
    suite = context.suites.add_or_update(gx.ExpectationSuite(name=name, expectations=expectations))
    validation = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=name, data=batch_definition, suite=suite)
    )
    actions = [UpdateDataDocsAction(name="update_data_docs")] if build_docs else []
    checkpoint = context.checkpoints.add_or_update(
        gx.Checkpoint(
            name=name,
            validation_definitions=[validation],
            actions=actions,
            result_format=RESULT_FORMAT,
        )
    )
    run = checkpoint.run(
        batch_parameters={"dataframe": frame},
        run_id=RunIdentifier(run_name=run_name) if run_name else None,
    )
    validation_results = list(run.run_results.values())
    if len(validation_results) != 1:
        raise RuntimeError(f"expected 1 validation result, GX returned {len(validation_results)}")
    outcomes = [_outcome(r) for r in validation_results[0].results]
    if len(outcomes) != len(expectations):
        raise RuntimeError(
            f"{len(expectations)} expectations but {len(outcomes)} results returned by GX"
        )
    # (GX returns the results in an order of its own: each carries its configuration)
    outcomes = _locate(name, frame, outcomes,
                       [r.expectation_config for r in validation_results[0].results])
    success = bool(validation_results[0].success) and all(o.success for o in outcomes)
    return SuiteResult(
        suite_name=name,
        success=success,
        outcomes=outcomes,
        data_docs_index=_docs_index(context) if build_docs else None,
        duration_s=time.perf_counter() - started,
    )
