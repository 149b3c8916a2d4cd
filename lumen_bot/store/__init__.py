"""Persistence through SQLModel: one schema for SQLite and PostgreSQL."""
