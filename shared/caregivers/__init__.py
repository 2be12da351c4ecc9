"""Caregivers: profiles, availability, personality and the public card (API.md "Caregivers")."""
