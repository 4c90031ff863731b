"""The ML Metadata store: opening it on SQLite or a MySQL server, the run lock, and copying it."""
