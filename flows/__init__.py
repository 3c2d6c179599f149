"""Prefect flows of daglig."""
