"""Database role commands: the LOGIN role the Function App connects as.

Migration 0006 creates the NOLOGIN group role `neulbomcare_app` and grants it exactly what the app
needs (on the audit log only SELECT and INSERT). `db-roles` creates or updates the login that
belongs to it. It runs as the database owner (the server admin), after `alembic upgrade head`.
"""

from __future__ import annotations

import argparse
import re

from cli.common import AddCommand, fail, load_settings, read_password

APP_GROUP = "neulbomcare_app"
#: A plain role name: lower case, digits, `_`, and `-` after the first character, because a
#: Microsoft Entra role is named after the Function App (`func-neulbom-...`, its managed
#: identity's name); SQL quotes it, connection strings and the Azure portal take it as it is.
ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,62}$")
MIN_PASSWORD_LENGTH = 16


def cmd_db_roles(args: argparse.Namespace) -> int:
    """Create or update the app's LOGIN role NAME as a member of the group neulbomcare_app.

    Run it as the owner of the database (DATABASE_URL, or Key Vault's DatabaseURL, naming the
    server admin) after `alembic upgrade head`. The login gets CREATEDB (the restore drill creates
    and drops a scratch database) and nothing else of its own: no superuser, no CREATEROLE.
    With --password-stdin its password is read from standard input (the first line), never from
    the command line, and sent to the server already SCRAM-hashed; without it the role keeps the
    password it has (or none: a Microsoft Entra principal created beforehand).
    """
    import psycopg2
    from psycopg2 import sql
    from psycopg2.extensions import encrypt_password

    from shared.secrets import get_secret

    load_settings()
    name = args.app_login
    if not ROLE_NAME.match(name) or name == APP_GROUP:
        return fail(
            f"--app-login must be a lower-case role name (letters, digits, _, -) other than "
            f"{APP_GROUP}"
        )
    password = None
    if args.password_stdin:
        password = read_password(f"Password for {name}: ")
        if len(password) < MIN_PASSWORD_LENGTH:
            return fail(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    conn = psycopg2.connect(get_secret("DatabaseURL"), application_name="neulbomcare-db-roles")
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                "SELECT current_user, EXISTS (SELECT FROM pg_roles WHERE rolname = %s)",
                (APP_GROUP,),
            )
            row = cur.fetchone()
            assert row is not None
            owner, group_exists = row
            if not group_exists:
                return fail(f"no role {APP_GROUP}: run `alembic upgrade head` first")
            if name == owner:
                return fail(f"{name} is the role this command runs as: the app needs its own")
            cur.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", (name,))
            existing = cur.fetchone()
            if existing and existing[0]:
                return fail(f"{name} is a superuser: the app must not log in as one")
            role = sql.Identifier(name)
            if existing is None:
                cur.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEDB INHERIT").format(role))
            else:
                cur.execute(
                    sql.SQL(
                        "ALTER ROLE {} LOGIN CREATEDB INHERIT NOCREATEROLE NOREPLICATION"
                        " NOBYPASSRLS"
                    ).format(role)
                )
            cur.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(APP_GROUP), role))
            if password is not None:
                hashed = encrypt_password(password, name, conn, "scram-sha-256")
                cur.execute(sql.SQL("ALTER ROLE {} PASSWORD %s").format(role), (hashed,))
    finally:
        conn.close()
    action = "created" if existing is None else "updated"
    detail = "password set" if password is not None else "password unchanged"
    print(f"login role {name} {action} in group {APP_GROUP} with CREATEDB ({detail})")
    return 0


def register(add: AddCommand) -> None:
    sub = add("db-roles", cmd_db_roles)
    sub.add_argument(
        "--app-login",
        required=True,
        metavar="NAME",
        help="the login role the Function App connects as (created if missing)",
    )
    sub.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the login's password from standard input (first line)",
    )
