with source as (
    select * from {{ source('operateurs', 'raw_participants') }}
)

select
    cast(exercice as integer)                   as exercice,
    cast(num_convention as varchar)             as num_convention,
    cast(identifiant as varchar)                as identifiant,
    cast(date_entree as date)                   as date_entree,
    cast(date_sortie as date)                   as date_sortie,
    cast(motif_sortie_brut as varchar)          as motif_sortie_brut,
    cast(code_motif as varchar)                 as code_motif,
    cast(mise_en_parcours_en_cours as boolean)  as mise_en_parcours_en_cours,
    cast(source_file as varchar)                as source_file,
    cast(source_sheet as varchar)               as source_sheet,
    cast(source_row as integer)                 as source_row,
    cast(file_sha256 as varchar)                as file_sha256,
    cast(loaded_at as timestamp)                as loaded_at,
    cast(run_id as varchar)                     as run_id
from source
