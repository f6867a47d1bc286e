-- The source contract of the dbt project: schema `raw` of bilan.duckdb as written by
-- dagster_project/ingestion (docs/architecture.md, "Raw tables"). Used to build the
-- development / test warehouse; the real tables are created by the loader.
create schema if not exists raw;

create or replace table raw.raw_actions (
    exercice                    integer,
    num_convention              varchar,
    operateur                   varchar,
    siret                       varchar,
    intitule                    varchar,
    code_thematique             varchar,
    date_debut                  date,
    date_fin                    date,
    etp                         double,
    nb_referents                integer,
    accueils_individuels        integer,
    problemes_mobilite_resolus  integer,
    lieux_acces_multimedia      integer,
    certifications_delivrees    integer,
    source_file                 varchar,
    source_sheet                varchar,
    source_row                  integer,
    file_sha256                 varchar,
    loaded_at                   timestamp,
    run_id                      varchar
);

create or replace table raw.raw_participants (
    exercice                    integer,
    num_convention              varchar,
    identifiant                 varchar,
    date_entree                 date,
    date_sortie                 date,
    motif_sortie_brut           varchar,
    code_motif                  varchar,
    mise_en_parcours_en_cours   boolean,
    source_file                 varchar,
    source_sheet                varchar,
    source_row                  integer,
    file_sha256                 varchar,
    loaded_at                   timestamp,
    run_id                      varchar
);

create or replace table raw.raw_cer (
    exercice                    integer,
    num_convention              varchar,
    identifiant                 varchar,
    date_signature              date,
    accompagnement_social       boolean,
    source_file                 varchar,
    source_sheet                varchar,
    source_row                  integer,
    file_sha256                 varchar,
    loaded_at                   timestamp,
    run_id                      varchar
);

create or replace table raw.raw_mandats (
    exercice                    integer,
    num_mandat                  varchar,
    date_emission               date,
    num_convention              varchar,
    tiers                       varchar,
    siret                       varchar,
    nature                      varchar,
    montant                     decimal(14, 2),
    source_file                 varchar,
    source_sheet                varchar,
    source_row                  integer,
    file_sha256                 varchar,
    loaded_at                   timestamp,
    run_id                      varchar
);

create or replace table raw.manifest (
    exercice                    integer,
    source_file                 varchar,
    file_name                   varchar,
    kind                        varchar,
    sha256                      varchar,
    size_bytes                  bigint,
    mtime_ns                    bigint,
    mtime                       timestamp,
    status                      varchar,
    num_convention              varchar,
    replaced_by                 varchar,
    detail                      varchar,
    checked_against             varchar,
    rows_read                   integer,
    rows_loaded                 integer,
    rows_rejected               integer,
    run_id                      varchar,
    loaded_at                   timestamp
);

create or replace table raw.manifest_history as select * from raw.manifest;

create or replace table raw.rejets (
    exercice                    integer,
    source_file                 varchar,
    file_name                   varchar,
    sheet                       varchar,
    row_number                  integer,
    column_name                 varchar,
    value                       varchar,
    reason                      varchar,
    run_id                      varchar,
    rejected_at                 timestamp,
    montant                     decimal(14, 2),
    num_mandat                  varchar,
    num_convention              varchar
);
