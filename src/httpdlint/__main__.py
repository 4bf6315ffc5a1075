"""`python -m httpdlint`."""

from .cli import main

main()
