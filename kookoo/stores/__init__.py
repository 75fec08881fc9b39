"""Call stores: where per-call state lives between KooKoo's requests."""

from __future__ import annotations
