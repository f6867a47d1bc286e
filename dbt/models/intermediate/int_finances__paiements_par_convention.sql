-- Amount paid per exercice and convention: sum of its mandates, net of annulations
-- (an Annulation mandate carries a negative amount).
with mandats as (
    select * from {{ ref('stg_finances__mandats') }}
)

select
    exercice,
    num_convention,
    cast(sum(montant_eur) as decimal(14, 2))                                       as montant_paye_eur,
    cast(coalesce(sum(montant_eur) filter (where nature = 'Annulation'), 0) as decimal(14, 2)) as montant_annule_eur,
    count(*)                                                                       as nb_mandats,
    count(*) filter (where nature = 'Avance')                                      as nb_mandats_avance,
    count(*) filter (where nature = 'Solde')                                       as nb_mandats_solde,
    count(*) filter (where nature = 'Avenant')                                     as nb_mandats_avenant,
    count(*) filter (where nature = 'Annulation')                                  as nb_mandats_annulation,
    min(date_emission)                                                             as date_premier_mandat,
    max(date_emission)                                                             as date_dernier_mandat
from mandats
group by exercice, num_convention
