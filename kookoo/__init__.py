"""kookoo: a Werkzeug-based web framework for KooKoo (Ozonetel) IVR phone apps."""

from __future__ import annotations

__version__ = "0.1.0.dev0"
