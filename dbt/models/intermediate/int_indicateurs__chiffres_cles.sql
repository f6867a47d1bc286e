{#-
    Key figures of the report, long format: one row per loaded exercice, perimetre and
    indicateur. Perimetres:
      - `total`: the whole programme;
      - a type of action (`RU`, `SOC`, `PRO`): accompaniment figures only for types that have
        accompaniment thematics, CER figures only for types that have contractualisation ones;
      - a domain (`code_domaine`: nb_actions, montant_paye_eur, part_budget_pct), except a domain
        whose code is also a type code (`RU`: same thematics, figures given once);
      - a thematic with specific indicators (`SOC-INS`, `SOC-MOB`, `SOC-NUM`): those indicators.
    valeur is DECIMAL(18,2): counts are whole, amounts to the cent, percentages rounded to
    2 decimals (0-100), ETP to the hundredth.
-#}
{%- set pct_sorties = {
    'part_insertion_durable_pct': 'insertions_durables',
    'part_mise_en_parcours_pct': 'mises_en_parcours',
    'part_dynamique_parcours_pct': 'sorties_dynamique_parcours',
    'part_autre_motif_pct': 'sorties_autres_motifs',
    'part_ouverture_droits_pct': 'sorties_ouverture_droits',
    'part_sorties_emploi_formation_pct': 'sorties_emploi_formation',
} -%}

with exercices as (
    select exercice from {{ ref('int_exercices__charges') }}
),

thematiques as (
    select * from {{ ref('int_nomenclature__thematiques') }}
),

actions as (
    select * from {{ ref('int_actions__indicateurs') }}
),

cer_personnes as (
    select
        exercice,
        count(*)                                        as personnes_cer,
        count(*) filter (where a_accompagnement_social) as personnes_accompagnement_social
    from {{ ref('int_operateurs__cer_personnes') }}
    group by exercice
),

budget as (
    select exercice, sum(montant_paye_eur) as montant_total
    from actions
    group by exercice
),

-- perimetre `total` ---------------------------------------------------------------
totaux as (
    select
        exercices.exercice,
        count(actions.num_convention)                               as nb_actions,
        count(distinct actions.siret)                               as nb_partenaires,
        count(distinct actions.code_thematique)                     as nb_thematiques,
        coalesce(sum(actions.etp), 0)                               as etp,
        coalesce(sum(actions.montant_paye_eur), 0)                  as montant_paye_eur,
        coalesce(sum(actions.accompagnements), 0)                   as accompagnements,
        coalesce(sum(actions.fins_accompagnement), 0)               as fins_accompagnement,
        coalesce(sum(actions.insertions_durables), 0)               as insertions_durables,
        coalesce(sum(actions.mises_en_parcours), 0)                 as mises_en_parcours,
        coalesce(sum(actions.sorties_emploi_formation), 0)          as sorties_emploi_formation,
        coalesce(sum(actions.en_cours_avec_mise_en_parcours), 0)    as en_cours_avec_mise_en_parcours,
        -- the report's '4 043 + 1 335 = 5 378': both terms over the same perimeter (every
        -- type; SOC exits are in the first), so that the total's own figures add up
        coalesce(sum(actions.sorties_emploi_formation), 0)
            + coalesce(sum(actions.en_cours_avec_mise_en_parcours), 0) as personnes_reprise_activite
    from exercices
    left join actions
        on exercices.exercice = actions.exercice
    group by exercices.exercice
),

totaux_long as (
    select exercice, 'total' as perimetre, indicateur, valeur
    from (
        unpivot (
            select
                exercice,
                {%- for col in ['nb_actions', 'nb_partenaires', 'nb_thematiques', 'etp',
                    'montant_paye_eur', 'accompagnements', 'fins_accompagnement',
                    'insertions_durables', 'mises_en_parcours', 'sorties_emploi_formation',
                    'en_cours_avec_mise_en_parcours', 'personnes_reprise_activite'] %}
                cast({{ col }} as decimal(18, 2)) as {{ col }}{{ ',' if not loop.last }}
                {%- endfor %}
            from totaux
        )
        on columns(* exclude (exercice))
        into name indicateur value valeur
    )
),

-- perimetre = type of action (RU, SOC, PRO) -----------------------------------------
types as (
    select
        code_type_action,
        bool_or(est_accompagnement)     as a_accompagnement,
        bool_or(est_contractualisation) as a_contractualisation
    from thematiques
    group by code_type_action
),

par_type as (
    select
        exercices.exercice,
        types.code_type_action,
        types.a_accompagnement,
        types.a_contractualisation,
        count(actions.num_convention)                               as nb_actions,
        count(distinct actions.siret)                               as nb_partenaires,
        count(distinct actions.code_thematique)                     as nb_thematiques,
        coalesce(sum(actions.etp), 0)                               as etp,
        coalesce(sum(actions.nb_referents), 0)                      as nb_referents,
        coalesce(sum(actions.montant_paye_eur), 0)                  as montant_paye_eur,
        coalesce(sum(actions.accompagnements), 0)                   as accompagnements,
        coalesce(sum(actions.fins_accompagnement), 0)               as fins_accompagnement,
        coalesce(sum(actions.insertions_durables), 0)               as insertions_durables,
        coalesce(sum(actions.insertions_durables_creation_activite), 0) as insertions_durables_creation_activite,
        coalesce(sum(actions.mises_en_parcours), 0)                 as mises_en_parcours,
        coalesce(sum(actions.sorties_emploi_formation), 0)          as sorties_emploi_formation,
        coalesce(sum(actions.sorties_dynamique_parcours), 0)        as sorties_dynamique_parcours,
        coalesce(sum(actions.sorties_autres_motifs), 0)             as sorties_autres_motifs,
        coalesce(sum(actions.sorties_ouverture_droits), 0)          as sorties_ouverture_droits,
        coalesce(sum(actions.en_cours), 0)                          as en_cours,
        coalesce(sum(actions.en_cours_avec_mise_en_parcours), 0)    as en_cours_avec_mise_en_parcours
    from exercices
    cross join types
    left join actions
        on exercices.exercice = actions.exercice
        and types.code_type_action = actions.code_type_action
    group by all
),

par_type_indicateurs as (
    select
        par_type.exercice,
        par_type.code_type_action as perimetre,
        cast(nb_actions as decimal(18, 2))                          as nb_actions,
        cast(nb_actions as decimal(18, 2))                          as nb_conventions,
        cast(nb_partenaires as decimal(18, 2))                      as nb_partenaires,
        cast(nb_thematiques as decimal(18, 2))                      as nb_thematiques,
        cast(etp as decimal(18, 2))                                 as etp,
        cast(montant_paye_eur as decimal(18, 2))                    as montant_paye_eur,
        cast({{ percentage('montant_paye_eur', 'budget.montant_total') }} as decimal(18, 2))
                                                                    as part_budget_pct,
        -- CER figures: types with contractualisation thematics (RU)
        cast(case when a_contractualisation then nb_referents end as decimal(18, 2)) as nb_referents,
        cast(case when a_contractualisation then coalesce(cer_personnes.personnes_cer, 0) end
            as decimal(18, 2))                                      as personnes_cer,
        cast(case when a_contractualisation then coalesce(cer_personnes.personnes_accompagnement_social, 0) end
            as decimal(18, 2))                                      as personnes_accompagnement_social,
        -- accompaniment figures: types with accompaniment thematics (SOC, PRO)
        {%- for indicateur, col in [
            ('accompagnements', 'accompagnements'),
            ('fins_accompagnement', 'fins_accompagnement'),
            ('sorties_insertion_durable', 'insertions_durables'),
            ('sorties_insertion_durable_creation_activite', 'insertions_durables_creation_activite'),
            ('sorties_mise_en_parcours', 'mises_en_parcours'),
            ('sorties_dynamique_parcours', 'sorties_dynamique_parcours'),
            ('sorties_autres_motifs', 'sorties_autres_motifs'),
            ('sorties_ouverture_droits', 'sorties_ouverture_droits'),
            ('sorties_emploi_formation', 'sorties_emploi_formation'),
            ('en_cours', 'en_cours'),
            ('en_cours_avec_mise_en_parcours', 'en_cours_avec_mise_en_parcours')] %}
        cast(case when a_accompagnement then {{ col }} end as decimal(18, 2)) as {{ indicateur }},
        {%- endfor %}
        {%- for indicateur, col in pct_sorties.items() %}
        cast(case when a_accompagnement then {{ percentage(col, 'fins_accompagnement') }} end
            as decimal(18, 2))                                      as {{ indicateur }},
        {%- endfor %}
        -- share of still-accompanied participants who already reached a professional path
        cast(case when a_accompagnement then {{ percentage('en_cours_avec_mise_en_parcours', 'en_cours') }} end
            as decimal(18, 2))                                      as part_en_cours_avec_mise_en_parcours_pct
    from par_type
    left join budget
        on par_type.exercice = budget.exercice
    left join cer_personnes
        on par_type.exercice = cer_personnes.exercice
),

par_type_long as (
    select exercice, perimetre, indicateur, valeur
    from (
        unpivot par_type_indicateurs
        on columns(* exclude (exercice, perimetre))
        into name indicateur value valeur
    )
),

-- perimetre = domain of intervention ---------------------------------------------------
par_domaine as (
    select
        exercices.exercice,
        domaines.code_domaine                                       as perimetre,
        cast(count(actions.num_convention) as decimal(18, 2))       as nb_actions,
        cast(coalesce(sum(actions.montant_paye_eur), 0) as decimal(18, 2)) as montant_paye_eur,
        cast({{ percentage('coalesce(sum(actions.montant_paye_eur), 0)', 'any_value(budget.montant_total)') }}
            as decimal(18, 2))                                      as part_budget_pct
    from exercices
    cross join (
        select distinct code_domaine from thematiques
        where code_domaine not in (select code_type_action from thematiques)
    ) as domaines
    left join actions
        on exercices.exercice = actions.exercice
        and domaines.code_domaine = actions.code_domaine
    left join budget
        on exercices.exercice = budget.exercice
    group by exercices.exercice, domaines.code_domaine
),

par_domaine_long as (
    select exercice, perimetre, indicateur, valeur
    from (
        unpivot par_domaine
        on nb_actions, montant_paye_eur, part_budget_pct
        into name indicateur value valeur
    )
),

-- perimetre = thematic: its specific indicators -------------------------------------------
specifiques as (
    select
        exercices.exercice,
        thematiques.code_thematique                                 as perimetre,
        indicateurs.indicateur,
        cast(coalesce(sum(
            case indicateurs.indicateur
                when 'accueils_individuels' then actions.accueils_individuels
                when 'problemes_mobilite_resolus' then actions.problemes_mobilite_resolus
                when 'lieux_acces_multimedia' then actions.lieux_acces_multimedia
                when 'certifications_delivrees' then actions.certifications_delivrees
            end), 0) as decimal(18, 2))                             as valeur
    from exercices
    cross join thematiques
    cross join unnest(string_split(thematiques.indicateurs_specifiques, ';')) as indicateurs(indicateur)
    left join actions
        on exercices.exercice = actions.exercice
        and thematiques.code_thematique = actions.code_thematique
    where thematiques.indicateurs_specifiques is not null
    group by exercices.exercice, thematiques.code_thematique, indicateurs.indicateur
)

select exercice, perimetre, indicateur, valeur from totaux_long
union all
select exercice, perimetre, indicateur, valeur from par_type_long
union all
select exercice, perimetre, indicateur, valeur from par_domaine_long
union all
select exercice, perimetre, indicateur, valeur from specifiques
