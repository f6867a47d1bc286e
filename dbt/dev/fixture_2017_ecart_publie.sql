-- Added on top of fixture_2099_ok.sql: a tiny but internally consistent exercice 2017.
-- 2017 has published figures (seeds bilan_publie_*), which one action cannot match:
-- only the control-total test (controles_publies_ok on fct_controles_publies) must fail.
-- Its PRO-EMP-AME payment, 4 731 052.60, matches the report's 4 731 053 (printed in euros).
-- Its SOC-INS action counts 11 999 individual receptions, one short of the report's lower bound
-- ('plus de 12 000'): the `minimum` comparison fails too.
insert into raw.raw_actions values
    (2017, 'PDI-2017-0001', 'Association A', '11111111111111', 'Mobilisation vers l''emploi', 'PRO-EMP-AME',
     '2017-01-01', '2017-12-31', 2.0, null, null, null, null, null,
     '2017/operateurs/a.xlsx', 'Action', 3, 'sha-2017-a', '2018-06-30 10:00:00', 'run-2'),
    (2017, 'PDI-2017-0002', 'Centre social B', '22222222222222', 'Accueil', 'SOC-INS',
     '2017-01-01', '2017-12-31', 1.0, null, 11999, null, null, null,
     '2017/operateurs/b.xlsx', 'Action', 3, 'sha-2017-b', '2018-06-30 10:00:00', 'run-2');
insert into raw.raw_participants values
    (2017, 'PDI-2017-0001', 'P1', '2017-01-10', '2017-06-30', 'ID-EMPLOI', 'ID-EMPLOI', null,
     '2017/operateurs/a.xlsx', 'Participants', 2, 'sha-2017-a', '2018-06-30 10:00:00', 'run-2');
insert into raw.raw_mandats values
    (2017, '2017-000001', '2017-02-01', 'PDI-2017-0001', 'ASSOC A', '11111111111111', 'Avance', 4731052.60,
     '2017/finances/mandats_2017.csv', null, 2, 'sha-2017-f', '2018-06-30 10:00:00', 'run-2'),
    (2017, '2017-000002', '2017-02-01', 'PDI-2017-0002', 'CENTRE B', '22222222222222', 'Avance', 1000.00,
     '2017/finances/mandats_2017.csv', null, 3, 'sha-2017-f', '2018-06-30 10:00:00', 'run-2');
