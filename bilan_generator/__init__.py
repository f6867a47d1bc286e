"""Synthetic reporting-drop generator for the Bilan de l'Insertion.

Writes ``data/raw/<exercice>/operateurs/*.xlsx|*.ods`` (one workbook per
convention) and ``data/raw/<exercice>/finances/mandats_<exercice>.csv`` as
described in the raw-inputs contract. Exercise 2017 at scale 1 is calibrated on
the published 2017 figures (``dbt/seeds/bilan_publie_*.csv``). Never imported
by the pipeline.
"""
