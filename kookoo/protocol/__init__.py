"""What KooKoo says, as data: the one table of KooKoo XML (:mod:`~kookoo.protocol.schema`),
languages and Say-As formats (:mod:`~kookoo.protocol.lang`), phone numbers
(:mod:`~kookoo.protocol.phone`), India's time (:mod:`~kookoo.protocol.times`) and the typed
events of KooKoo's requests (:mod:`~kookoo.protocol.events`, their fields declared once with
:mod:`~kookoo.protocol.fields`). Imports only :mod:`kookoo.core`."""
