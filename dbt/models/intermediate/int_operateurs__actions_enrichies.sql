-- One row per convention (= action): the Action sheet + its thematic, domain, type and nature.
with actions as (
    select * from {{ ref('stg_operateurs__actions') }}
),

thematiques as (
    select * from {{ ref('int_nomenclature__thematiques') }}
)

select
    actions.exercice,
    actions.num_convention,
    actions.operateur,
    actions.siret,
    actions.intitule,
    actions.code_thematique,
    thematiques.libelle_thematique,
    thematiques.code_domaine,
    thematiques.libelle_domaine,
    thematiques.code_type_action,
    thematiques.libelle_type_action,
    thematiques.nature,
    thematiques.est_accompagnement,
    thematiques.est_contractualisation,
    actions.date_debut,
    actions.date_fin,
    actions.etp,
    actions.nb_referents,
    actions.accueils_individuels,
    actions.problemes_mobilite_resolus,
    actions.lieux_acces_multimedia,
    actions.certifications_delivrees,
    actions.source_file
from actions
left join thematiques
    on actions.code_thematique = thematiques.code_thematique
