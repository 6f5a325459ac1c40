"""`python -m samuel_pl.fit`: same as `samuel fit`."""

from samuel_pl.cli.main import run_module

if __name__ == "__main__":
    run_module("fit")
