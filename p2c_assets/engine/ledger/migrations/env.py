"""Alembic environment of the ledger, run only through `Ledger.upgrade()`.

There is no alembic.ini: `Ledger.upgrade()` opens the write transaction (and takes the lock that
makes concurrent start-ups safe) and hands its connection over in `config.attributes`. A new
revision is written with the same kind of call, from a checkout:

    from alembic import command
    from alembic.config import Config
    config = Config(); config.set_main_option("script_location", "p2c_assets.engine.ledger:migrations")
    command.revision(config, "what changes", rev_id="0002")

then filled in by hand (or with autogenerate against a database at head, passing its connection in
`config.attributes["connection"]`).
"""

from alembic import context

from p2c_assets.engine.ledger.tables import VERSION_TABLE, metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    # SQLite cannot ALTER most things; batch mode rebuilds the table instead
    render_as_batch=connection.dialect.name == "sqlite",
)
context.run_migrations()
