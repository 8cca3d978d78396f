"""`python -m nbmlops.cli ...`: the click group (what alert hooks and scripts call)."""

from nbmlops.cli.main import main

main()
