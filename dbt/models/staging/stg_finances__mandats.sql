with source as (
    select * from {{ source('finances', 'raw_mandats') }}
)

select
    cast(exercice as integer)                   as exercice,
    cast(num_mandat as varchar)                 as num_mandat,
    cast(date_emission as date)                 as date_emission,
    cast(num_convention as varchar)             as num_convention,
    cast(tiers as varchar)                      as tiers,
    cast(siret as varchar)                      as siret,
    cast(nature as varchar)                     as nature,
    cast(montant as decimal(14, 2))             as montant_eur,
    cast(source_file as varchar)                as source_file,
    cast(source_sheet as varchar)               as source_sheet,
    cast(source_row as integer)                 as source_row,
    cast(file_sha256 as varchar)                as file_sha256,
    cast(loaded_at as timestamp)                as loaded_at,
    cast(run_id as varchar)                     as run_id
from source
