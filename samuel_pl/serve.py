"""`python -m samuel_pl.serve`: same as `samuel serve`."""

from samuel_pl.cli.main import run_module

if __name__ == "__main__":
    run_module("serve")
