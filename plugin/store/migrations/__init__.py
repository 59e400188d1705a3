"""Alembic migrations of piccl's database."""
