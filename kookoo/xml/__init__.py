"""What the app answers: the builders of KooKoo XML (:mod:`~kookoo.xml.response`, on the
element views of :mod:`~kookoo.xml.node`), the one hardened parser (:mod:`~kookoo.xml.parser`)
and the lint rules (:mod:`~kookoo.xml.lint`). Imports :mod:`kookoo.core` and
:mod:`kookoo.protocol`."""
