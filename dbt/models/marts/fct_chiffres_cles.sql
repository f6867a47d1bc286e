-- Published: the key figures of the report, long format (exercice, perimetre, indicateur,
-- valeur). Copied to the analysts' database as `chiffres_cles`.
select
    exercice,
    perimetre,
    indicateur,
    valeur
from {{ ref('int_indicateurs__chiffres_cles') }}
