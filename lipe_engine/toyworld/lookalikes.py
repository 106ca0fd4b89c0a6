"""Look-alikes: another individual of the same kind and body colour with other markings.

Captions name the kind and body colour ("a red striped dog"); the markings words do not name are
what makes an individual itself, so a look-alike is the hardest negative for identity checks.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .world import Individual

# the fields a look-alike shares with the individual: kind and body colour (family, tint, brightness)
SHARED_FIELDS: tuple[str, ...] = ("kind", "colour", "shade", "tint")


def markings(individual: Individual) -> tuple:
    """The visible markings: every field a look-alike does not share (pattern colour unseen when plain)."""
    values = {f.name: getattr(individual, f.name) for f in dataclasses.fields(individual)
              if f.name not in SHARED_FIELDS}
    if values.get("pattern") == "plain":
        values.pop("pattern_colour", None)
    return tuple(sorted(values.items()))


def lookalike(individual: Individual, rng: np.random.Generator) -> Individual:
    """A random individual with the same kind and body colour and visibly other markings."""
    shared = {name: getattr(individual, name) for name in SHARED_FIELDS if hasattr(individual, name)}
    for _ in range(1000):
        other = dataclasses.replace(Individual.random(rng, kind=individual.kind), **shared)
        visible = [getattr(other, n) for n in ("pattern_colour", "accent_colour") if hasattr(other, n)]
        if markings(other) != markings(individual) and individual.colour not in visible:
            return other
    raise RuntimeError(f"no look-alike found for {individual}")
