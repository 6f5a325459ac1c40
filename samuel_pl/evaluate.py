"""`python -m samuel_pl.evaluate`: same as `samuel evaluate`."""

from samuel_pl.cli.main import run_module

if __name__ == "__main__":
    run_module("evaluate")
