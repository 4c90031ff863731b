"""The config file, the settings read from it, and the workspace it points to."""
