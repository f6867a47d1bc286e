-- A tiny, consistent exercice 2099 (no published figures: no control rows, green build).
--   0001 PRO-EMP-AME  accompagnement, operator A: 4 participants (ID-CREATION, MP-CONTRAT-COURT,
--                     one still accompanied with a mise en parcours, AM-DROIT-ARE)
--   0002 RU           contractualisation, operator B: 4 CER rows, 3 persons, 1 with social follow-up
--   0003 SOC-NUM      accompagnement, operator A again (same SIRET): 2 participants, specific indicators
--   0004 PRO-PART     partenariat, operator C: no participant
--   0005 SAN-INF      accompagnement with no participant yet, operator D
-- ETP of 0001 and 0004 (both PRO) beyond the hundredth (0004: '=1/3'): the published totals
-- must add up.
insert into raw.raw_actions values
    (2099, 'PDI-2099-0001', 'Association A', '11111111111111', 'Mobilisation vers l''emploi', 'PRO-EMP-AME',
     '2099-01-01', '2099-12-31', 2.333, null, null, null, null, null,
     '2099/operateurs/a.xlsx', 'Action', 3, 'sha-a', '2099-12-31 10:00:00', 'run-1'),
    (2099, 'PDI-2099-0002', 'CCAS B', '22222222222222', 'Référents uniques', 'RU',
     '2099-01-01', '2099-12-31', 3.0, 4, null, null, null, null,
     '2099/operateurs/b.ods', 'Action', 3, 'sha-b', '2099-12-31 10:00:00', 'run-1'),
    (2099, 'PDI-2099-0003', 'Association A', '11111111111111', 'Fracture numérique', 'SOC-NUM',
     '2099-02-01', '2099-12-31', 1.25, null, null, null, 3, 12,
     '2099/operateurs/a2.xlsx', 'Action', 3, 'sha-a2', '2099-12-31 10:00:00', 'run-1'),
    (2099, 'PDI-2099-0004', 'SCOP C', '33333333333333', 'Partenariat ESS', 'PRO-PART',
     '2099-01-01', '2099-12-31', 0.3333333333, null, null, null, null, null,
     '2099/operateurs/c.xlsx', 'Action', 3, 'sha-c', '2099-12-31 10:00:00', 'run-1'),
    (2099, 'PDI-2099-0005', 'Centre de santé D', '44444444444444', 'Suivi infirmier', 'SAN-INF',
     '2099-03-01', '2099-12-31', 1.0, null, null, null, null, null,
     '2099/operateurs/d.xlsx', 'Action', 3, 'sha-d', '2099-12-31 10:00:00', 'run-1');

insert into raw.raw_participants values
    (2099, 'PDI-2099-0001', 'P1', '2099-01-10', '2099-06-30', 'Création d''activité générant plus de 1 500 €', 'ID-CREATION', null,
     '2099/operateurs/a.xlsx', 'Participants', 2, 'sha-a', '2099-12-31 10:00:00', 'run-1'),
    (2099, 'PDI-2099-0001', 'P2', '2099-02-01', '2099-05-15', 'MP-CONTRAT-COURT', 'MP-CONTRAT-COURT', null,
     '2099/operateurs/a.xlsx', 'Participants', 3, 'sha-a', '2099-12-31 10:00:00', 'run-1'),
    (2099, 'PDI-2099-0001', 'P3', '2099-03-01', null, null, null, true,
     '2099/operateurs/a.xlsx', 'Participants', 4, 'sha-a', '2099-12-31 10:00:00', 'run-1'),
    (2099, 'PDI-2099-0001', 'P4', '2099-03-05', '2099-09-01', 'am-droit-are', 'AM-DROIT-ARE', false,
     '2099/operateurs/a.xlsx', 'Participants', 5, 'sha-a', '2099-12-31 10:00:00', 'run-1'),
    (2099, 'PDI-2099-0003', 'P1', '2099-02-10', '2099-02-10', 'Obtention d''une certification Internet', 'DP-CERTIF-NUM', null,
     '2099/operateurs/a2.xlsx', 'Participants', 2, 'sha-a2', '2099-12-31 10:00:00', 'run-1'),
    (2099, 'PDI-2099-0003', 'Q2', '2099-04-01', null, null, null, null,
     '2099/operateurs/a2.xlsx', 'Participants', 3, 'sha-a2', '2099-12-31 10:00:00', 'run-1');

insert into raw.raw_cer values
    (2099, 'PDI-2099-0002', 'X1', '2099-01-15', true,  '2099/operateurs/b.ods', 'CER', 2, 'sha-b', '2099-12-31 10:00:00', 'run-1'),
    (2099, 'PDI-2099-0002', 'X2', '2099-02-15', false, '2099/operateurs/b.ods', 'CER', 3, 'sha-b', '2099-12-31 10:00:00', 'run-1'),
    (2099, 'PDI-2099-0002', 'X1', '2099-07-15', false, '2099/operateurs/b.ods', 'CER', 4, 'sha-b', '2099-12-31 10:00:00', 'run-1'),
    (2099, 'PDI-2099-0002', 'X3', '2099-08-15', false, '2099/operateurs/b.ods', 'CER', 5, 'sha-b', '2099-12-31 10:00:00', 'run-1');

insert into raw.raw_mandats values
    (2099, 'M-0001', '2099-02-01', 'PDI-2099-0001', 'ASSOC A', '11111111111111', 'Avance',     10000.00, '2099/finances/mandats_2099.csv', null, 2, 'sha-f', '2099-12-31 10:00:00', 'run-1'),
    (2099, 'M-0002', '2099-11-01', 'PDI-2099-0001', 'ASSOC A', '11111111111111', 'Solde',       2500.50, '2099/finances/mandats_2099.csv', null, 3, 'sha-f', '2099-12-31 10:00:00', 'run-1'),
    (2099, 'M-0003', '2099-02-01', 'PDI-2099-0002', 'CCAS B',  '22222222222222', 'Avance',      8000.00, '2099/finances/mandats_2099.csv', null, 4, 'sha-f', '2099-12-31 10:00:00', 'run-1'),
    (2099, 'M-0004', '2099-03-01', 'PDI-2099-0002', 'CCAS B',  '22222222222222', 'Annulation',  -500.25, '2099/finances/mandats_2099.csv', null, 5, 'sha-f', '2099-12-31 10:00:00', 'run-1'),
    (2099, 'M-0005', '2099-10-01', 'PDI-2099-0002', 'CCAS B',  '22222222222222', 'Avenant',     1000.00, '2099/finances/mandats_2099.csv', null, 6, 'sha-f', '2099-12-31 10:00:00', 'run-1'),
    (2099, 'M-0006', '2099-03-01', 'PDI-2099-0003', 'ASSOC A', '11111111111111', 'Avance',      3000.00, '2099/finances/mandats_2099.csv', null, 7, 'sha-f', '2099-12-31 10:00:00', 'run-1'),
    (2099, 'M-0007', '2099-03-01', 'PDI-2099-0004', 'SCOP C',  '33333333333333', 'Avance',      1500.00, '2099/finances/mandats_2099.csv', null, 8, 'sha-f', '2099-12-31 10:00:00', 'run-1'),
    (2099, 'M-0008', '2099-12-01', 'PDI-2099-0005', 'CENTRE D','44444444444444', 'Solde',        999.99, '2099/finances/mandats_2099.csv', null, 9, 'sha-f', '2099-12-31 10:00:00', 'run-1');

insert into raw.manifest (exercice, source_file, file_name, kind, sha256, size_bytes, mtime,
                          status, num_convention, replaced_by, rows_read, rows_loaded,
                          rows_rejected, run_id, loaded_at) values
    (2099, '2099/operateurs/a.xlsx',   'a.xlsx',   'operateur', 'sha-a',  1000, '2099-12-30 09:00:00', 'loaded',   'PDI-2099-0001', null, 5, 5, 0, 'run-1', '2099-12-31 10:00:00'),
    (2099, '2099/operateurs/b.ods',    'b.ods',    'operateur', 'sha-b',  1000, '2099-12-30 09:00:00', 'loaded',   'PDI-2099-0002', null, 5, 5, 0, 'run-1', '2099-12-31 10:00:00'),
    (2099, '2099/operateurs/a2.xlsx',  'a2.xlsx',  'operateur', 'sha-a2', 1000, '2099-12-30 09:00:00', 'loaded',   'PDI-2099-0003', null, 4, 3, 1, 'run-1', '2099-12-31 10:00:00'),
    (2099, '2099/operateurs/c.xlsx',   'c.xlsx',   'operateur', 'sha-c',  1000, '2099-12-30 09:00:00', 'loaded',   'PDI-2099-0004', null, 1, 1, 0, 'run-1', '2099-12-31 10:00:00'),
    (2099, '2099/operateurs/d.xlsx',   'd.xlsx',   'operateur', 'sha-d',  1000, '2099-12-30 09:00:00', 'loaded',   'PDI-2099-0005', null, 1, 1, 0, 'run-1', '2099-12-31 10:00:00'),
    (2099, '2099/operateurs/d_old.xlsx','d_old.xlsx','operateur','sha-d0', 900, '2099-12-01 09:00:00', 'replaced', 'PDI-2099-0005', '2099/operateurs/d.xlsx', 1, 0, 1, 'run-1', '2099-12-31 10:00:00'),
    (2099, '2099/operateurs/~$a.xlsx', '~$a.xlsx', 'autre',     'sha-l',   165, '2099-12-30 09:00:00', 'ignored',  null, null, 0, 0, 0, 'run-1', '2099-12-31 10:00:00'),
    (2099, '2099/finances/mandats_2099.csv', 'mandats_2099.csv', 'finances', 'sha-f', 800, '2099-12-30 09:00:00', 'loaded', null, null, 8, 8, 0, 'run-1', '2099-12-31 10:00:00');

insert into raw.rejets values
    (2099, '2099/operateurs/a2.xlsx', 'a2.xlsx', 'Participants', 4, 'Motif de sortie', 'Parti en vacances', 'motif de sortie inconnu', 'run-1', '2099-12-31 10:00:00', null, null, null),
    (2099, '2099/operateurs/d_old.xlsx', 'd_old.xlsx', null, null, null, null, 'remplacé par 2099/operateurs/d.xlsx', 'run-1', '2099-12-31 10:00:00', null, null, null);
