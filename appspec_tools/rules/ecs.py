"""Filled in by its owner this session."""
