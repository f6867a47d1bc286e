with source as (
    select * from {{ source('pipeline', 'rejets') }}
)

select
    cast(exercice as integer)                   as exercice,
    cast(source_file as varchar)                as source_file,
    cast(file_name as varchar)                  as file_name,
    cast(sheet as varchar)                      as sheet,
    cast(row_number as integer)                 as row_number,
    cast(column_name as varchar)                as column_name,
    cast(value as varchar)                      as value,
    cast(reason as varchar)                     as reason,
    cast(run_id as varchar)                     as run_id,
    cast(rejected_at as timestamp)              as rejected_at,
    cast(montant as decimal(14, 2))             as montant,
    cast(num_mandat as varchar)                 as num_mandat,
    cast(num_convention as varchar)             as num_convention
from source
