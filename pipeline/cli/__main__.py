"""`python -m pipeline.cli`: the same as the `journey` command."""

from pipeline.cli import main

raise SystemExit(main())
