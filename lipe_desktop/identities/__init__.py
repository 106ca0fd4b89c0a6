"""Identities panel: create identities, add photos, roles, captions, suggestions."""

from .panel import IdentitiesPanel

__all__ = ["IdentitiesPanel"]
