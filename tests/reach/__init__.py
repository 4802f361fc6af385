"""Helpers for the campaign reach tests: hub databases and real local channel servers."""
