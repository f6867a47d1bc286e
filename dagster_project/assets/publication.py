"""The analysts' database: published only when every blocking check upstream has passed.

Two locks on the same door, because a wrong figure in ``marts.duckdb`` is the worst failure:

1. In a run, Dagster skips an asset when a blocking check of one of its *direct* upstream assets
   failed, and only those. So this asset depends on every asset that carries a blocking check
   (staging, intermediate and marts models, the raw manifest; keys derived from the check
   definitions, :data:`PUBLICATION_DEPS`), not only on the marts it copies: a failed GX suite on
   a staging model skips the publication like a failed dbt test on a mart.
2. Before copying anything, the asset itself refuses (``dg.Failure``, not retried, the old file
   untouched) when a control total against the published report is not ``ok``, when a blocking
   check upstream did not pass on the asset's latest materialization, as recorded in the
   instance (:mod:`dagster_project.checks.publication_gate`), when a model upstream was not
   rebuilt since its own upstream assets were, or when the last load began and never finished
   (``state.interrupted_load``). "Materialize" on this asset alone (UI) runs no check: it
   re-publishes only marts whose checks passed, built from the latest complete load.

The copy itself is write-audit-publish (see :mod:`dagster_project.publication`).
"""

from datetime import timedelta

import dagster as dg
import duckdb

from dagster_project import state
from dagster_project.assets.dbt import bilan_dbt_assets
from dagster_project.assets.retries import retried_if_transient
from dagster_project.checks.conservation import manifest_conservation
from dagster_project.checks.publication_gate import (
    SHOWN,
    blocking_check_keys,
    stale_assets,
    unverified_checks,
    upstream_lineage,
)
from dagster_project.checks.quality import GX_CHECKS
from dagster_project.publication import (
    PublicationRefused,
    control_line,
    failed_control_rows,
    publish,
)
from dagster_project.reporting.views import VIEWS_SQL
from dagster_project.resources import WarehouseResource

MART_DEPS = [
    "fct_synthese_thematiques",
    "fct_chiffres_cles",
    "fct_actions",
    "fct_evolution_thematiques",
    "fct_controles_publies",
]
MARTS_PUBLIES = dg.AssetKey(["analystes", "marts_publies"])
# Every definition that carries asset checks (definitions.py registers the same ones; a test
# checks that no blocking check of the code location is missing here).
CHECKED_DEFINITIONS = [bilan_dbt_assets, manifest_conservation, *GX_CHECKS]
BLOCKING_CHECKS = blocking_check_keys(CHECKED_DEFINITIONS)
PUBLICATION_DEPS = sorted(
    {dg.AssetKey(["marts", m]) for m in MART_DEPS} | {k.asset_key for k in BLOCKING_CHECKS},
    key=lambda k: k.to_user_string(),
)
# Each model the publication depends on, with its upstream assets (the raw tables for staging):
# every one must have been rebuilt since they were last materialized (publication_gate).
LINEAGE = upstream_lineage(bilan_dbt_assets.asset_deps, PUBLICATION_DEPS)


def controls_metadata(con) -> dict[str, dg.MetadataValue]:
    rows = con.execute(
        "SELECT exercice, perimetre, indicateur, valeur_publiee, valeur_calculee, statut "
        "FROM marts.fct_controles_publies "
        "WHERE (perimetre, indicateur) IN (('total','fins_accompagnement'), "
        "('total','montant_paye_eur'), ('total','accompagnements'), ('total','nb_actions')) "
        "ORDER BY exercice, indicateur"
    ).fetchall()
    md = {}
    for ex, _per, ind, pub, calc, statut in rows:
        md[f"controle_{ex}_{ind}"] = dg.MetadataValue.text(
            f"observé {calc} / attendu {pub} ({statut})"
        )
    md["controles_ko"] = dg.MetadataValue.int(len(failed_control_rows(con)))
    return md


def failed_controls(con) -> list[str]:
    """Control totals not ``ok`` (or the control table missing: nothing proves the figures)."""
    try:
        rows = failed_control_rows(con)
    except (duckdb.CatalogException, duckdb.BinderException) as exc:
        return [f"contrôles illisibles : {str(exc).splitlines()[0]}"]
    return [control_line(r) for r in rows]


def refuse_unless_verified(context: dg.AssetExecutionContext, con) -> None:
    """Raise (no retry: the data will not change by itself) unless every control total is ok,
    every blocking check upstream passed on the latest materialization of its asset, every model
    upstream was rebuilt after its own upstream assets, and the last load finished (the marts
    are the latest complete load's)."""
    controls = failed_controls(con)
    checks = unverified_checks(context.instance, BLOCKING_CHECKS)
    interrupted = state.interrupted_load(con)
    pairs = stale_assets(context.instance, LINEAGE)
    stale = [line for _, line in pairs]
    # its rows are in the warehouse, committed exercise by exercise, and no model is built on them
    load = [f"chargement du run {interrupted} interrompu : l'entrepôt en tient une partie, dont "
            "aucun modèle n'est issu ; relancer le job bilan_nightly"] if interrupted else []
    if not (controls or checks or stale or load):
        return
    shown = (controls + checks + load + stale)[:SHOWN]
    more = len(controls) + len(checks) + len(load) + len(stale) - len(shown)
    n_models = len({model for model, _ in pairs})
    raise dg.Failure(
        description=(
            f"Publication refusée, marts.duckdb inchangé : {len(controls)} contrôle(s) non ok, "
            f"{len(checks)} check(s) bloquant(s) non vérifié(s) sur les données actuelles"
            + (", dernier chargement interrompu" if interrupted else "")
            + (f", {n_models} modèle(s) non reconstruit(s) depuis leur amont" if pairs else "")
            + ".\n"
            + "\n".join(f"- {line}" for line in shown)
            + (f"\n- … et {more} autre(s) (métadonnées)" if more else "")
        ),
        metadata={
            "controles_ko": dg.MetadataValue.json(controls),
            "checks_non_verifies": dg.MetadataValue.json(checks),
            "chargement_interrompu": dg.MetadataValue.text(interrupted or ""),
            "modeles_non_reconstruits": dg.MetadataValue.json(stale),
        },
        allow_retries=False,
    )


def data_docs_metadata(warehouse: WarehouseResource) -> dict[str, dg.MetadataValue]:
    """Where the GX Data Docs of this run's suites are (written by the checks under gx/)."""
    found = sorted((warehouse.dir_path() / "gx").glob("**/data_docs/local_site/index.html"))
    return {"data_docs": dg.MetadataValue.path(str(found[0]))} if found else {}


@dg.asset(
    key=MARTS_PUBLIES,
    deps=PUBLICATION_DEPS,
    group_name="publication",
    kinds={"duckdb"},
    pool="warehouse_writer",
    description="marts.duckdb for analysts: synthese_thematiques, chiffres_cles, actions, "
    "evolution_thematiques, paiements_non_comptes (aggregates only), replaced atomically; "
    "only when every control total is ok, every blocking check upstream passed on the "
    "current data, and the marts were built from the latest complete load.",
    freshness_policy=dg.FreshnessPolicy.cron(
        deadline_cron="0 7 * * *", lower_bound_delta=timedelta(hours=6), timezone="Europe/Paris"
    ),
)
def marts_publies(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    with (
        retried_if_transient(context),  # a warehouse held by another writer: retried
        warehouse.writer(holder=f"dagster run {context.run.run_id} (publication)") as con,
    ):
        refuse_unless_verified(context, con)  # before any copy: the old file stays as it is
        md = controls_metadata(con)
        try:
            result = publish(con, warehouse.marts_path(), views_sql=VIEWS_SQL)
        except PublicationRefused as exc:  # personal data or torn file: a retry cannot help
            raise dg.Failure(description=f"PublicationRefused: {exc}", allow_retries=False) from exc
        # the published state, so an unchanged next run can skip (dagster_project/state.py)
        # (a re-execution from failure: its parent's ingestion, when no other load came since)
        recorded = state.record_publication(
            con, warehouse.dir_path(),
            state.run_lineage(context.run, context.instance.get_run_by_id),
            warehouse.marts_path(),
        )
    if result.stale_wal_removed:
        context.log.warning(
            f"{result.path.name}.wal d'un client tué en écriture supprimé avant publication"
        )
    context.log.info(f"marts publiés : {result.path} {result.tables}")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(result.path)),
            "size_bytes": result.size_bytes,
            "wal_perime_supprime": result.stale_wal_removed,
            **data_docs_metadata(warehouse),
            "etat_enregistre": recorded,
            **{f"rows_{k}": v for k, v in result.tables.items()},
            **md,
        }
    )
