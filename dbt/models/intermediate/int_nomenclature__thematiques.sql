-- Thematic nomenclature with the derived flags the business rules need.
with thematiques as (
    select * from {{ ref('stg_nomenclature__thematiques') }}
),

indicateurs as (
    select
        *,
        coalesce(string_split(indicateurs_specifiques, ';'), []) as liste_indicateurs
    from thematiques
)

select
    code_thematique,
    libelle_thematique,
    code_domaine,
    libelle_domaine,
    code_type_action,
    libelle_type_action,
    nature,
    indicateurs_specifiques,
    nature = 'accompagnement'                                    as est_accompagnement,
    nature = 'contractualisation'                                as est_contractualisation,
    nature = 'partenariat'                                       as est_partenariat,
    list_contains(liste_indicateurs, 'accueils_individuels')       as suit_accueils_individuels,
    list_contains(liste_indicateurs, 'problemes_mobilite_resolus') as suit_problemes_mobilite_resolus,
    list_contains(liste_indicateurs, 'lieux_acces_multimedia')     as suit_lieux_acces_multimedia,
    list_contains(liste_indicateurs, 'certifications_delivrees')   as suit_certifications_delivrees
from indicateurs
