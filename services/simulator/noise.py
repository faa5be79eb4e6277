"""Deterministic noise as pure functions of (seed, key, t): the same inputs give the same value in any order."""

from __future__ import annotations

import hashlib
import math
import struct


def hashed_uniform(seed: int, key: str, index: int) -> float:
    """A uniform number in [0, 1) fixed by (seed, key, index); stable across processes (no `hash()`)."""
    digest = hashlib.blake2b(f"{seed}:{key}:{index}".encode(), digest_size=8).digest()
    return (struct.unpack(">Q", digest)[0] >> 11) / float(1 << 53)


def hashed_gauss(seed: int, key: str, index: int) -> float:
    """A standard normal number fixed by (seed, key, index) (Box–Muller on two hashed uniforms)."""
    u1 = max(hashed_uniform(seed, key + "/a", index), 1e-300)
    u2 = hashed_uniform(seed, key + "/b", index)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


def smooth_noise(seed: int, key: str, t: float, knot_s: float, sigma: float) -> float:
    """Gaussian values at knots every `knot_s` seconds, cosine-interpolated between them: a wandering signal."""
    position = t / knot_s
    k = math.floor(position)
    frac = position - k
    weight = (1.0 - math.cos(math.pi * frac)) / 2.0
    a = hashed_gauss(seed, key, k)
    b = hashed_gauss(seed, key, k + 1)
    return sigma * (a * (1.0 - weight) + b * weight)
