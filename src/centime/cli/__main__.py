"""``python -m centime.cli``: the ``centime`` command."""

from centime.cli import main

main()
