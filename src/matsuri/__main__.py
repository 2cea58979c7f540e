"""`python -m matsuri`: the same CLI as the `matsuri` command (the runner service starts runs this way)."""

from matsuri.cli import main

main()
