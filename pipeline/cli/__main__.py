"""`python -m pipeline.cli`: the `penguins` command, for a child process that must use this interpreter."""

import sys

from pipeline.cli.main import main

sys.exit(main())
