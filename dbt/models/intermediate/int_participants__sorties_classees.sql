-- One row per accompaniment, its exit classified through the motifs_sortie nomenclature.
with participants as (
    select * from {{ ref('stg_operateurs__participants') }}
),

motifs as (
    select * from {{ ref('stg_nomenclature__motifs_sortie') }}
),

-- an exit dated after the convention's end is not an exit of this action's bilan: the person
-- was still accompanied when the action ended (the parser refuses exits before its start)
actions as (
    select exercice, num_convention, date_fin from {{ ref('stg_operateurs__actions') }}
),

sorties as (
    select
        participants.*,
        participants.date_sortie is not null
            and (actions.date_fin is null or participants.date_sortie <= actions.date_fin)
            as sortie_dans_la_periode
    from participants
    left join actions
        on participants.exercice = actions.exercice
        and participants.num_convention = actions.num_convention
),

classees as (
    select
        participants.exercice,
        participants.num_convention,
        participants.identifiant,
        participants.date_entree,
        participants.date_sortie,
        participants.code_motif,
        participants.mise_en_parcours_en_cours,
        participants.sortie_dans_la_periode                as est_sortie,
        case when participants.sortie_dans_la_periode then motifs.categorie end       as categorie,
        case when participants.sortie_dans_la_periode then motifs.sous_categorie end  as sous_categorie,
        participants.source_file,
        participants.source_row
    from sorties as participants
    left join motifs
        on participants.code_motif = motifs.code_motif
)

select
    exercice,
    num_convention,
    identifiant,
    date_entree,
    date_sortie,
    code_motif,
    categorie,
    sous_categorie,
    est_sortie,
    coalesce(categorie = 'INSERTION_DURABLE', false)                        as est_insertion_durable,
    coalesce(categorie = 'MISE_EN_PARCOURS', false)                         as est_mise_en_parcours,
    coalesce(categorie = 'DYNAMIQUE_PARCOURS', false)                       as est_dynamique_parcours,
    coalesce(categorie = 'AUTRE_MOTIF', false)                              as est_autre_motif,
    coalesce(sous_categorie = 'OUVERTURE_DROITS', false)                    as est_ouverture_droits,
    coalesce(sous_categorie = 'CREATION_ACTIVITE', false)                   as est_creation_activite,
    coalesce(categorie in ('INSERTION_DURABLE', 'MISE_EN_PARCOURS'), false) as est_sortie_emploi_formation,
    not est_sortie                                                          as est_en_cours,
    (not est_sortie) and coalesce(mise_en_parcours_en_cours, false)         as en_cours_avec_mise_en_parcours,
    mise_en_parcours_en_cours,
    source_file,
    source_row
from classees
