"""The NeulbomCare Function App: one FunctionApp, one blueprint per area.

Importing this module connects to nothing, loads no model and reads no secret: the database
pool, secrets, Blob client and model are created on first use.
"""

import azure.functions as func

from functions import (
    admin,
    auth,
    benefits,
    care,
    care_plans,
    caregivers,
    continuity,
    dashboard,
    docs,
    fallback,
    health,
    incidents,
    matching,
    meal_plans,
    notification_sender,
    notifications,
    patients,
    personality_tests,
    queues,
    reviews,
    statement_files,
    timers,
    timesheets,
    visit_details,
    visit_records,
    visit_timers,
    visits,
)

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

AREAS = (
    health,
    docs,
    auth,
    patients,
    caregivers,
    matching,
    care,
    continuity,
    care_plans,
    meal_plans,
    personality_tests,
    reviews,
    dashboard,
    admin,
    timers,
    queues,
    visits,
    visit_details,
    incidents,
    notifications,
    notification_sender,
    visit_timers,
    visit_records,
    timesheets,
    statement_files,
    benefits,
)

for area in AREAS:
    app.register_functions(area.bp)
# Last: the catch-all answers only for paths no other route serves.
app.register_functions(fallback.bp)
