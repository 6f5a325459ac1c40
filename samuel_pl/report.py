"""`python -m samuel_pl.report`: same as `samuel report`."""

from samuel_pl.cli.main import run_module

if __name__ == "__main__":
    run_module("report")
