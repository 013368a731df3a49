"""``python -m aigvqa`` runs the command line."""

from aigvqa.cli import main

main()
