"""The analysts' database: published only when every blocking check upstream has passed.

Dagster skips this asset when a blocking check or the dbt build failed earlier in the run, so a
wrong figure never reaches ``marts.duckdb``; the copy itself is write-audit-publish (see
:mod:`dagster_project.publication`).
"""

from datetime import timedelta

import dagster as dg

from dagster_project import state
from dagster_project.assets.ingestion import IO_RETRY
from dagster_project.publication import PublicationRefused, publish
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
    nko = con.execute(
        "SELECT count(*) FROM marts.fct_controles_publies WHERE statut <> 'ok'"
    ).fetchone()[0]
    md["controles_ko"] = dg.MetadataValue.int(int(nko))
    return md


def data_docs_metadata(warehouse: WarehouseResource) -> dict[str, dg.MetadataValue]:
    """Where the GX Data Docs of this run's suites are (written by the checks under gx/)."""
    found = sorted((warehouse.dir_path() / "gx").glob("**/data_docs/local_site/index.html"))
    return {"data_docs": dg.MetadataValue.path(str(found[0]))} if found else {}


@dg.asset(
    key=MARTS_PUBLIES,
    deps=[dg.AssetKey(["marts", m]) for m in MART_DEPS],
    group_name="publication",
    kinds={"duckdb"},
    pool="warehouse_writer",
    retry_policy=IO_RETRY,
    description="marts.duckdb for analysts: synthese_thematiques, chiffres_cles, actions "
    "(aggregates only), replaced atomically.",
    freshness_policy=dg.FreshnessPolicy.cron(
        deadline_cron="0 7 * * *", lower_bound_delta=timedelta(hours=6), timezone="Europe/Paris"
    ),
)
def marts_publies(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    with warehouse.writer(holder=f"dagster run {context.run.run_id} (publication)") as con:
        md = controls_metadata(con)
        try:
            result = publish(con, warehouse.marts_path(), views_sql=VIEWS_SQL)
        except PublicationRefused as exc:  # personal data or torn file: a retry cannot help
            raise dg.Failure(description=f"PublicationRefused: {exc}", allow_retries=False) from exc
        # the published state, so an unchanged next run can skip (dagster_project/state.py)
        recorded = state.record_publication(
            con, warehouse.dir_path(), context.run.run_id, warehouse.marts_path()
        )
    context.log.info(f"marts publiés : {result.path} {result.tables}")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(result.path)),
            "size_bytes": result.size_bytes,
            **data_docs_metadata(warehouse),
            "etat_enregistre": recorded,
            **{f"rows_{k}": v for k, v in result.tables.items()},
            **md,
        }
    )
