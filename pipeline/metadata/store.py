"""Opens the ML Metadata store wherever it is configured, after checking that it can be used.

Every command reads and writes metadata through here, so SQLite and MySQL behave alike: a
command that only reads finds "no store yet" without creating one, and a MySQL store that cannot
be used stops the command in one line (pipeline/metadata/server.py) rather than falling back to a
SQLite file.
"""

from __future__ import annotations

from pipeline.config.metadata_location import MetadataLocation, MysqlLocation
from pipeline.metadata.server import MetadataStoreError, holds_store


def store_exists(location: MetadataLocation) -> bool:
    """Whether a run has recorded anything there yet; a MySQL server that cannot be used raises."""
    if isinstance(location, MysqlLocation):
        return holds_store(location)
    return location.path.is_file()


def open_store(location: MetadataLocation, read_only: bool = True):
    """ML Metadata's client. Callers ask `store_exists` first, which checks a MySQL server with clear
    errors (ML Metadata's own say little); a server lost since then is still named here.

    ML Metadata is imported here, not above, so that commands which only ask whether a store
    exists start without it."""
    from ml_metadata.metadata_store import metadata_store

    try:
        return metadata_store.MetadataStore(location.connection_config(read_only))
    except RuntimeError as error:  # ML Metadata's connection errors (a server gone since the check)
        raise MetadataStoreError(f"Metadata store {location.describe()}: {error}") from None
