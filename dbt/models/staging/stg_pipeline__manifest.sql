with source as (
    select * from {{ source('pipeline', 'manifest') }}
)

select
    cast(exercice as integer)                   as exercice,
    cast(source_file as varchar)                as source_file,
    cast(file_name as varchar)                  as file_name,
    cast(kind as varchar)                       as kind,
    cast(sha256 as varchar)                     as sha256,
    cast(size_bytes as bigint)                  as size_bytes,
    cast(mtime_ns as bigint)                    as mtime_ns,
    cast(mtime as timestamp)                    as mtime,
    cast(status as varchar)                     as status,
    cast(num_convention as varchar)             as num_convention,
    cast(replaced_by as varchar)                as replaced_by,
    cast(detail as varchar)                     as detail,
    cast(checked_against as varchar)            as checked_against,
    cast(rows_read as bigint)                   as rows_read,
    cast(rows_loaded as bigint)                 as rows_loaded,
    cast(rows_rejected as bigint)               as rows_rejected,
    cast(run_id as varchar)                     as run_id,
    cast(loaded_at as timestamp)                as loaded_at
from source
