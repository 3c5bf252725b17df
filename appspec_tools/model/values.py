"""What makes the model classes values: sequence fields are tuples, whatever the caller passed."""

from __future__ import annotations


def freeze_lists(instance: object, *names: str) -> None:
    """Lists given to a frozen dataclass become tuples, so that equality and hashing hold."""
    for name in names:
        value = getattr(instance, name)
        if isinstance(value, list):
            object.__setattr__(instance, name, tuple(value))
