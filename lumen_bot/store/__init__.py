"""The SQL adapter: every store port on SQLModel tables, one schema for SQLite and PostgreSQL. The only
package that knows SQL; nothing outside it but the composition root (``channels/app.py``) imports it."""
