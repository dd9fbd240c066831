"""Matching a question to entries, and deciding whether to answer."""
