"""bilan-insertion: Dagster code location for the Bilan de l'Insertion pipeline."""
