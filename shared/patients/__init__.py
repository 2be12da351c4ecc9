"""Guardians and patients: the service (rules, authorisation, audit) and its repository (SQL)."""
