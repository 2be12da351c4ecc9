"""Incidents of care: reported by the caregiver (or an operator), followed up by operators."""
