"""The monthly visit record (급여제공기록지): `service` (read, link, acknowledge, the monthly
job), `builder` (the record from its rows, pure), `sections` (care-log categories to the form's
sections, as data), `pdf` (the Korean PDF), `store` (Blob and links), `repository` (its SQL)."""
