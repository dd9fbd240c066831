"""Thin adapters from chat platforms to the core."""
