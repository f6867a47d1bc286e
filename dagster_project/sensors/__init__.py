"""Sensors: new drops in the raw folder, and alerts when a run fails."""
