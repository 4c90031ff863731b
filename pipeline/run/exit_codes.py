"""Exit codes of the `penguins` command, shared by every command and documented in the README."""

EXIT_OK = 0
EXIT_FAILED = 1  # a component failed (the served model unchanged), or predict found no server or was refused
EXIT_USAGE = 2  # bad arguments or config, or nothing to work on
EXIT_DATA_REJECTED = 3  # the data failed cleaning, the schema, or the drift check
EXIT_BUSY = 4  # another process holds the workspace or the port
EXIT_INTERRUPTED = 130  # stopped by Ctrl-C or SIGTERM; recorded as failed, the served model unchanged
