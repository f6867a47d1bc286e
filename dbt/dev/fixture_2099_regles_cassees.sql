-- Added on top of fixture_2099_ok.sql: each row breaks one rule the dbt tests guard.
-- exit before entry  → column_gte_column on stg_operateurs__participants.date_sortie
insert into raw.raw_participants values
    (2099, 'PDI-2099-0001', 'P9', '2099-05-01', '2099-04-01', 'Abandon du suivi', 'AM-ABANDON', null,
     '2099/operateurs/a.xlsx', 'Participants', 6, 'sha-a', '2099-12-31 10:00:00', 'run-1');
-- mandate for a convention without workbook → relationships_combination stg_finances__mandats → actions
insert into raw.raw_mandats values
    (2099, 'M-0999', '2099-06-01', 'PDI-2099-0999', 'INCONNU', '99999999999999', 'Avance', 123.45,
     '2099/finances/mandats_2099.csv', null, 10, 'sha-f', '2099-12-31 10:00:00', 'run-1');
-- the same orphan convention paid again from a second export, at its line 2: its failing row
-- names one line of one file (mandats_2099.csv line 10), never the file of one and the line of
-- the other
insert into raw.raw_mandats values
    (2099, 'M-1999', '2099-07-01', 'PDI-2099-0999', 'INCONNU', '99999999999999', 'Solde', 10.00,
     '2099/finances/mandats_2099_complement.csv', null, 2, 'sha-g', '2099-12-31 10:00:00', 'run-1');
-- a negative payment that is not an Annulation → stg_finances__mandats_paiement_non_negatif (error)
-- a payment of 0 → stg_finances__mandats_paiement_non_nul (warning only)
insert into raw.raw_mandats values
    (2099, 'M-0998', '2099-06-01', 'PDI-2099-0001', 'ASSOC A', '11111111111111', 'Avance', -200.00,
     '2099/finances/mandats_2099.csv', null, 11, 'sha-f', '2099-12-31 10:00:00', 'run-1'),
    (2099, 'M-0997', '2099-06-01', 'PDI-2099-0001', 'ASSOC A', '11111111111111', 'Solde', 0.00,
     '2099/finances/mandats_2099.csv', null, 12, 'sha-f', '2099-12-31 10:00:00', 'run-1');
-- action without any mandate → relationships_combination stg_operateurs__actions → mandats
--   (its ETP, 1,250,000, an amount typed in the cell → stg_operateurs__actions_etp_plausible,
--   a warning only)
-- with an unknown thematic  → relationships stg_operateurs__actions.code_thematique
-- and a 13-digit SIRET      → stg_operateurs__actions_siret_14_chiffres
insert into raw.raw_actions values
    (2099, 'PDI-2099-0006', 'Association E', '5555555555555', 'Action hors nomenclature', 'XXX-INCONNU',
     '2099-01-01', '2099-12-31', 1250000.0, null, null, null, null, null,
     '2099/operateurs/e.xlsx', 'Action', 3, 'sha-e', '2099-12-31 10:00:00', 'run-1');
-- a positive Annulation → stg_finances__mandats_annulation_negative (an Annulation takes back)
-- a mandate number twice in the exercice → unique_combination on (exercice, num_mandat)
insert into raw.raw_mandats values
    (2099, 'M-0996', '2099-08-01', 'PDI-2099-0002', 'CCAS B', '22222222222222', 'Annulation', 300.00,
     '2099/finances/mandats_2099.csv', null, 13, 'sha-f', '2099-12-31 10:00:00', 'run-1'),
    (2099, 'M-0001', '2099-09-01', 'PDI-2099-0001', 'ASSOC A', '11111111111111', 'Solde', 50.00,
     '2099/finances/mandats_2099.csv', null, 14, 'sha-f', '2099-12-31 10:00:00', 'run-1');
-- a file whose rows read are not its rows loaded + rejected → the manifest's conservation test
insert into raw.manifest (exercice, source_file, file_name, kind, sha256, size_bytes, mtime,
                          status, num_convention, replaced_by, rows_read, rows_loaded,
                          rows_rejected, run_id, loaded_at) values
    (2099, '2099/operateurs/e.xlsx', 'e.xlsx', 'operateur', 'sha-e', 1000, '2099-12-30 09:00:00',
     'loaded', 'PDI-2099-0006', null, 3, 1, 1, 'run-1', '2099-12-31 10:00:00');
