"""The ``exsync`` command line (DESIGN.md, "The command line"); the entry point is ``exsync.cli.app:main``."""
