"""``python -m bridge``: the same command line as the ``bridge`` script."""

from bridge.cli.main import main

main()
