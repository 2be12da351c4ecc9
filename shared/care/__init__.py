"""Schedules, care logs and care reports: service (rules), repository (SQL), report text, ETags."""
