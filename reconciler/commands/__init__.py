"""Command bodies; ``reconciler.cli`` only registers them."""

from __future__ import annotations
