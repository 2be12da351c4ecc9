"""The NeulbomCare Function App: one FunctionApp, one blueprint per area.

Importing this module connects to nothing, loads no model and reads no secret: the database
pool, secrets, Blob client and model are created on first use.
"""

import azure.functions as func

from functions import admin, auth, docs, fallback, health, timers

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

for blueprint in (health.bp, docs.bp, auth.bp, admin.bp, timers.bp, fallback.bp):
    app.register_functions(blueprint)
