"""Dependency-free plugins that ship with the core and register through the same hooks."""
