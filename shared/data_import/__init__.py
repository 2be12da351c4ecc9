"""Bulk import of the earlier pilot's CSV exports (`manage.py import-csv DIR`).

- `files`: which files exist, their columns and dependency order; reading them with line numbers.
- `parsers` and `labels`: one field each, raising `RowError` whose text is the rejection reason.
- `loaders`: one module per file (`loaders.caregivers`, `loaders.patients`, ...), validating
  every row and writing the valid ones in batches; `loaders.common` holds what they share.
- `repository`: all the SQL. `report`: the per-file counts, rejections and split rows.
- `service.import_directory`: the whole run in ONE transaction (see its docstring).

The package itself imports nothing: callers import the module they need
(`from shared.data_import.service import import_directory`), so no module of it imports the
package while the package imports it.
"""
