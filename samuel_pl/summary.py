"""`python -m samuel_pl.summary`: same as `samuel summary`."""

from samuel_pl.cli.main import run_module

if __name__ == "__main__":
    run_module("summary")
