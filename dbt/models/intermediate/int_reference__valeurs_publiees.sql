-- Every number printed in a published report, in long format: one row per
-- (exercice, source, perimetre, indicateur). Blank cells of the synthesis table are
-- not published numbers and are dropped.
with synthese as (
    select * from {{ ref('stg_reference__bilan_publie_synthese') }}
),

synthese_long as (
    select
        exercice,
        'synthese'                          as source,
        code_thematique                     as perimetre,
        indicateur,
        cast(valeur as decimal(18, 2))      as valeur_publiee,
        'egal'                              as comparaison
    from (
        unpivot (
            select
                exercice,
                code_thematique,
                cast(nb_actions as decimal(18, 2))               as nb_actions,
                cast(montant_paye_eur as decimal(18, 2))         as montant_paye_eur,
                cast(accompagnements as decimal(18, 2))          as accompagnements,
                cast(fins_accompagnement as decimal(18, 2))      as fins_accompagnement,
                cast(insertions_durables as decimal(18, 2))      as insertions_durables,
                cast(mises_en_parcours as decimal(18, 2))        as mises_en_parcours,
                cast(sorties_emploi_formation as decimal(18, 2)) as sorties_emploi_formation
            from synthese
        )
        on nb_actions, montant_paye_eur, accompagnements, fins_accompagnement,
           insertions_durables, mises_en_parcours, sorties_emploi_formation
        into name indicateur value valeur
    )
    where valeur is not null
),

chiffres_cles as (
    select
        exercice,
        'chiffres_cles'                     as source,
        perimetre,
        indicateur,
        cast(valeur as decimal(18, 2))      as valeur_publiee,
        comparaison
    from {{ ref('stg_reference__bilan_publie_chiffres_cles') }}
    where valeur is not null
)

select * from synthese_long
union all
select * from chiffres_cles
