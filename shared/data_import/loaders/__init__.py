"""One loader module per pilot file: validate every row, reject the bad ones, write the rest in
batches.

Each loader works in three steps: parse each row on its own (labels, dates, ranges: `RowError`);
resolve the source ids the file refers to with one query per entity (a reference to an id that
is neither in this run nor in an earlier import is a dangling id); then write the accepted rows
with a handful of statements through the repository. Within a file the first row for a key wins
and later duplicates are rejected, naming the line of the first.

Modules, in load order (each docstring says what its file replaces):

- `caregivers`: caregivers_profile.csv (`CaregiverRow`)
- `availability`: caregiver_availability.csv (`AvailabilityRow`)
- `caregiver_personality`: caregiver_personality.csv (`PersonalityRow`)
- `patients`: patients_profile.csv (`PatientRow`)
- `patient_personality`: patient_personality.csv (`PersonalityRow`)
- `conditions`: health_conditions.csv (`ConditionRow`)
- `diets`: dietary_preferences.csv (`DietRow`)
- `matchings`: matching_results.csv (`MatchingRow`)
- `reviews`: reviews.csv (`ReviewRow`)
- `common`: what they share: the run's state, the parse / first-row-wins / resolve steps, the
  imported accounts, the personality format both personality files use, and the audit events.
"""
