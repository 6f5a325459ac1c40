"""Fault-injection fixtures (``locked_dir``, ``full_disk``) live in tests/conftest.py."""
