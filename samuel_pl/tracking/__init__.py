"""MLflow setup and helpers."""
