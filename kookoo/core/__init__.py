"""The floor every layer stands on, importing nothing else of kookoo: the error base
(:mod:`~kookoo.core.errors`), the one table of settings and the only reader of ``KOOKOO_*``
variables (:mod:`~kookoo.core.settings`), the one signing primitive
(:mod:`~kookoo.core.signing`), log-safe text (:mod:`~kookoo.core.text`) and the loader of
``module:attr`` and ``file.py`` targets (:mod:`~kookoo.core.loading`)."""
