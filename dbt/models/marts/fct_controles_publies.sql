-- Control totals: one row per number printed in the published report of an exercice that
-- is loaded in the warehouse, with the value the pipeline computes for it.
--   comparaison `egal`:    ok when the computed value, rounded to the unit, equals the published
--                          value: the report prints every figure as a whole number (euros, staff
--                          ETP), while payments are computed to the cent;
--   comparaison `minimum`: ok when computed >= published ("plus de 12 000").
-- A published figure the pipeline does not compute is ko (valeur_calculee null).
-- An exercice without published figures has no rows here; a blank published cell is not a control.
with publiees as (
    select * from {{ ref('int_reference__valeurs_publiees') }}
),

exercices as (
    select exercice from {{ ref('int_exercices__charges') }}
),

synthese_calculee as (
    select exercice, 'synthese' as source, code_thematique as perimetre, indicateur, valeur
    from (
        unpivot (
            select
                exercice,
                code_thematique,
                {%- for col in ['nb_actions', 'montant_paye_eur', 'accompagnements',
                    'fins_accompagnement', 'insertions_durables', 'mises_en_parcours',
                    'sorties_emploi_formation'] %}
                cast({{ col }} as decimal(18, 2)) as {{ col }}{{ ',' if not loop.last }}
                {%- endfor %}
            from {{ ref('int_thematiques__indicateurs') }}
        )
        on columns(* exclude (exercice, code_thematique))
        into name indicateur value valeur
    )
),

chiffres_cles_calcules as (
    select exercice, 'chiffres_cles' as source, perimetre, indicateur, valeur
    from {{ ref('int_indicateurs__chiffres_cles') }}
),

calculees as (
    select * from synthese_calculee
    union all
    select * from chiffres_cles_calcules
),

compares as (
    select
        publiees.exercice,
        publiees.source,
        publiees.perimetre,
        publiees.indicateur,
        publiees.valeur_publiee,
        calculees.valeur                                    as valeur_calculee,
        publiees.comparaison,
        calculees.valeur - publiees.valeur_publiee          as ecart
    from publiees
    inner join exercices
        on publiees.exercice = exercices.exercice
    left join calculees
        on publiees.exercice = calculees.exercice
        and publiees.source = calculees.source
        and publiees.perimetre = calculees.perimetre
        and publiees.indicateur = calculees.indicateur
)

select
    exercice,
    source,
    perimetre,
    indicateur,
    cast(valeur_publiee as decimal(18, 2))                  as valeur_publiee,
    cast(valeur_calculee as decimal(18, 2))                 as valeur_calculee,
    comparaison,
    cast(ecart as decimal(18, 2))                           as ecart,
    case
        when valeur_calculee is null then 'ko'
        when comparaison = 'minimum' and valeur_calculee >= valeur_publiee then 'ok'
        when comparaison = 'egal' and round(valeur_calculee, 0) = valeur_publiee then 'ok'
        else 'ko'
    end                                                     as statut
from compares
