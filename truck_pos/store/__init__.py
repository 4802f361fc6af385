"""Persistence: peewee models on SQLite (WAL, synchronous=FULL), the outbox and migrations."""
