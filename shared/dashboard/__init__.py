"""The signed-in user's dashboard: one query per panel."""
