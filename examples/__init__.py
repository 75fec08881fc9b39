"""Example KooKoo IVR apps, importable as ``examples.<name>:app``."""
