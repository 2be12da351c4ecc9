"""Visits: the record that care was delivered (check-in/out with evidence, the visit's
checklist and medications, corrections, incidents). See docs/api.md, "Visits"."""
