"""``python -m grounddesk`` runs the command-line program."""

from grounddesk.cli import main

main()
