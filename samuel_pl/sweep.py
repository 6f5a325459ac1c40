"""`python -m samuel_pl.sweep`: same as `samuel sweep`."""

from samuel_pl.cli.main import run_module

if __name__ == "__main__":
    run_module("sweep")
