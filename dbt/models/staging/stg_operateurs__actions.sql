with source as (
    select * from {{ source('operateurs', 'raw_actions') }}
)

select
    cast(exercice as integer)                   as exercice,
    cast(num_convention as varchar)             as num_convention,
    cast(operateur as varchar)                  as operateur,
    cast(siret as varchar)                      as siret,
    cast(intitule as varchar)                   as intitule,
    cast(code_thematique as varchar)            as code_thematique,
    cast(date_debut as date)                    as date_debut,
    cast(date_fin as date)                      as date_fin,
    cast(etp as double)                         as etp,
    cast(nb_referents as integer)               as nb_referents,
    cast(accueils_individuels as integer)       as accueils_individuels,
    cast(problemes_mobilite_resolus as integer) as problemes_mobilite_resolus,
    cast(lieux_acces_multimedia as integer)     as lieux_acces_multimedia,
    cast(certifications_delivrees as integer)   as certifications_delivrees,
    cast(source_file as varchar)                as source_file,
    cast(source_sheet as varchar)               as source_sheet,
    cast(source_row as integer)                 as source_row,
    cast(file_sha256 as varchar)                as file_sha256,
    cast(loaded_at as timestamp)                as loaded_at,
    cast(run_id as varchar)                     as run_id
from source
