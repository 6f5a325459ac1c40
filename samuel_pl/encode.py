"""`python -m samuel_pl.encode`: same as `samuel encode`."""

from samuel_pl.cli.main import run_module

if __name__ == "__main__":
    run_module("encode")
