with source as (
    select * from {{ ref('motifs_sortie') }}
)

select
    cast(code_motif as varchar)                 as code_motif,
    cast(libelle_motif as varchar)              as libelle_motif,
    cast(categorie as varchar)                  as categorie,
    cast(nullif(trim(sous_categorie), '') as varchar) as sous_categorie
from source
