-- One row per exercice and convention (= action) with every figure of the report:
-- payments, accompaniments, exits by category, CER, specific indicators.
-- Accompaniment figures are NULL when the thematic's nature is not `accompagnement`
-- (the report prints no number) and 0 for an accompaniment action with no participant;
-- CER figures likewise for `contractualisation` (RU) actions.
with actions as (
    select * from {{ ref('int_operateurs__actions_enrichies') }}
),

paiements as (
    select * from {{ ref('int_finances__paiements_par_convention') }}
),

cer as (
    select * from {{ ref('int_operateurs__cer_par_convention') }}
),

participants as (
    select
        exercice,
        num_convention,
        count(*)                                                as accompagnements,
        count(*) filter (where est_sortie)                      as fins_accompagnement,
        count(*) filter (where est_insertion_durable)           as insertions_durables,
        count(*) filter (where est_insertion_durable and est_creation_activite)
                                                                as insertions_durables_creation_activite,
        count(*) filter (where est_mise_en_parcours)            as mises_en_parcours,
        count(*) filter (where est_sortie_emploi_formation)     as sorties_emploi_formation,
        count(*) filter (where est_dynamique_parcours)          as sorties_dynamique_parcours,
        count(*) filter (where est_autre_motif)                 as sorties_autres_motifs,
        count(*) filter (where est_ouverture_droits)            as sorties_ouverture_droits,
        count(*) filter (where est_en_cours)                    as en_cours,
        count(*) filter (where en_cours_avec_mise_en_parcours)  as en_cours_avec_mise_en_parcours
    from {{ ref('int_participants__sorties_classees') }}
    group by exercice, num_convention
)

select
    actions.exercice,
    actions.num_convention,
    actions.operateur,
    actions.siret,
    actions.intitule,
    actions.code_thematique,
    actions.libelle_thematique,
    actions.code_domaine,
    actions.libelle_domaine,
    actions.code_type_action,
    actions.nature,
    actions.date_debut,
    actions.date_fin,
    -- as declared (to the millionth: a cell '=1/3' is 0.333333; 18 digits: an amount typed in
    -- the cell does not stop the build, stg's etp_plausible warns), as published per action:
    -- every ETP total (thematic, type, key figure, operator) is the sum of these, rounded once
    -- to the hundredth the report prints. So a total equals the sum of the actions an analyst
    -- sees, rounded (three actions at 0.333: 0.999, 1.00, where actions rounded to 0.33 each
    -- showed 0.99), four at 0.125 make 0.50, not 0.52, and thirty at 1/3 make 10.00, not the
    -- 9.99 of actions rounded to the thousandth first (second cold review)
    cast(actions.etp as decimal(18, 6))  as etp,
    actions.nb_referents,
    cast(coalesce(paiements.montant_paye_eur, 0) as decimal(14, 2))     as montant_paye_eur,
    cast(coalesce(paiements.nb_mandats, 0) as bigint)                   as nb_mandats,
    {%- for col in [
        'accompagnements', 'fins_accompagnement', 'insertions_durables',
        'insertions_durables_creation_activite', 'mises_en_parcours', 'sorties_emploi_formation',
        'sorties_dynamique_parcours', 'sorties_autres_motifs', 'sorties_ouverture_droits',
        'en_cours', 'en_cours_avec_mise_en_parcours'] %}
    cast(case when actions.est_accompagnement then coalesce(participants.{{ col }}, 0) end as bigint)
                                                                        as {{ col }},
    {%- endfor %}
    cast(case when actions.est_contractualisation then coalesce(cer.nb_cer, 0) end as bigint)
                                                                        as nb_cer,
    cast(case when actions.est_contractualisation then coalesce(cer.personnes_cer, 0) end as bigint)
                                                                        as personnes_cer,
    cast(case when actions.est_contractualisation then coalesce(cer.personnes_accompagnement_social, 0) end as bigint)
                                                                        as personnes_accompagnement_social,
    actions.accueils_individuels,
    actions.problemes_mobilite_resolus,
    actions.lieux_acces_multimedia,
    actions.certifications_delivrees
from actions
left join paiements
    on actions.exercice = paiements.exercice
    and actions.num_convention = paiements.num_convention
left join participants
    on actions.exercice = participants.exercice
    and actions.num_convention = participants.num_convention
left join cer
    on actions.exercice = cer.exercice
    and actions.num_convention = cer.num_convention
