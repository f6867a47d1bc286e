-- Year-over-year synthesis: one row per loaded exercice × thematic of the nomenclature, with the
-- same thematic's figures for the previous LOADED exercice (which may be older than
-- exercice - 1 when a year is missing) and the changes (amounts, percentages, rate points). The
-- first loaded exercice has no previous one: its *_precedent and evolution_* columns are NULL.
-- Published as is by fct_evolution_thematiques.
with synthese as (
    select * from {{ ref('int_thematiques__indicateurs') }}
),

avec_precedent as (
    select
        exercice,
        lag(exercice) over w                    as exercice_precedent,
        code_thematique,
        libelle_thematique,
        code_domaine,
        libelle_domaine,
        code_type_action,
        nb_actions,
        lag(nb_actions) over w                  as nb_actions_precedent,
        montant_paye_eur,
        lag(montant_paye_eur) over w            as montant_paye_eur_precedent,
        accompagnements,
        lag(accompagnements) over w             as accompagnements_precedent,
        fins_accompagnement,
        lag(fins_accompagnement) over w         as fins_accompagnement_precedent,
        sorties_emploi_formation,
        lag(sorties_emploi_formation) over w    as sorties_emploi_formation_precedent
    from synthese
    window w as (partition by code_thematique order by exercice)
),

taux as (
    select
        *,
        {{ percentage('sorties_emploi_formation', 'fins_accompagnement') }}
            as taux_sorties_emploi_formation_pct,
        {{ percentage('sorties_emploi_formation_precedent', 'fins_accompagnement_precedent') }}
            as taux_sorties_emploi_formation_precedent_pct
    from avec_precedent
)

select
    cast(exercice as integer)                                           as exercice,
    cast(exercice_precedent as integer)                                 as exercice_precedent,
    code_thematique,
    libelle_thematique,
    code_domaine,
    libelle_domaine,
    code_type_action,
    cast(nb_actions as bigint)                                          as nb_actions,
    cast(nb_actions_precedent as bigint)                                as nb_actions_precedent,
    cast(montant_paye_eur as decimal(14, 2))                            as montant_paye_eur,
    cast(montant_paye_eur_precedent as decimal(14, 2))                  as montant_paye_eur_precedent,
    cast(montant_paye_eur - montant_paye_eur_precedent as decimal(14, 2)) as evolution_montant_eur,
    cast({{ percentage('montant_paye_eur - montant_paye_eur_precedent', 'montant_paye_eur_precedent') }}
        as decimal(18, 2))  as evolution_montant_pct,
    cast(accompagnements as bigint)                                     as accompagnements,
    cast(accompagnements_precedent as bigint)                           as accompagnements_precedent,
    cast({{ percentage('accompagnements - accompagnements_precedent', 'accompagnements_precedent') }}
        as decimal(18, 2))   as evolution_accompagnements_pct,
    cast(fins_accompagnement as bigint)                                 as fins_accompagnement,
    cast(fins_accompagnement_precedent as bigint)                       as fins_accompagnement_precedent,
    cast(sorties_emploi_formation as bigint)                            as sorties_emploi_formation,
    cast(sorties_emploi_formation_precedent as bigint)                  as sorties_emploi_formation_precedent,
    cast(taux_sorties_emploi_formation_pct as decimal(18, 2))           as taux_sorties_emploi_formation_pct,
    cast(taux_sorties_emploi_formation_precedent_pct as decimal(18, 2)) as taux_sorties_emploi_formation_precedent_pct,
    cast(taux_sorties_emploi_formation_pct - taux_sorties_emploi_formation_precedent_pct
        as decimal(18, 2))                                              as evolution_taux_sorties_emploi_formation_pts
from taux
