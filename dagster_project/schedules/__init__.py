"""Schedules: the nightly load at 02:00, Paris time."""
