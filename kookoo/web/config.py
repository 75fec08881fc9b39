"""What ``kookoo config TARGET`` prints: every setting of an app in effect, with where it came
from (:meth:`Settings.describe <kookoo.core.settings.Settings.describe>`), and the store the
app keeps calls in. The settings themselves are the one table in :mod:`kookoo.core.settings`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from kookoo.core.settings import EffectiveSetting, format_settings

if TYPE_CHECKING:
    from kookoo.web.app import KooKoo

__all__ = ["EffectiveSetting", "describe", "format_settings"]


def describe(app: KooKoo) -> list[EffectiveSetting]:
    """The settings in effect in ``app``, the store first (never created by this: a default
    SQLite store is described by its file), then every setting of the table; secrets are
    shown as ``****`` with their count."""
    rows = [_describe_store(app)]
    rows.extend(row for row in app.settings.describe() if row.name not in ("store", "db"))
    return rows


def _describe_store(app: KooKoo) -> EffectiveSetting:
    sources = app.settings.sources
    store = app.store_if_created
    if store is not None:
        for variable in ("KOOKOO_STORE", "KOOKOO_DB"):
            if store.name.endswith(f"(from {variable})"):
                return EffectiveSetting("store", store.name, variable)
        return EffectiveSetting("store", store.name, "argument")
    if not app.uses_default_store:
        return EffectiveSetting("store", "none (store=False: no call state)", "argument")
    from kookoo.state.stores.sqlite import DEFAULT_DB_FILENAME

    path = os.path.abspath(app.settings.db or DEFAULT_DB_FILENAME)
    return EffectiveSetting("store", f"SQLite database {path}", sources.get("db", "default"))
