with source as (
    select * from {{ source('operateurs', 'raw_cer') }}
)

select
    cast(exercice as integer)                   as exercice,
    cast(num_convention as varchar)             as num_convention,
    cast(identifiant as varchar)                as identifiant,
    cast(date_signature as date)                as date_signature,
    cast(accompagnement_social as boolean)      as accompagnement_social,
    cast(source_file as varchar)                as source_file,
    cast(source_sheet as varchar)               as source_sheet,
    cast(source_row as integer)                 as source_row,
    cast(file_sha256 as varchar)                as file_sha256,
    cast(loaded_at as timestamp)                as loaded_at,
    cast(run_id as varchar)                     as run_id
from source
