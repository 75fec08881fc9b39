"""What is kept between KooKoo's requests: the call (:mod:`~kookoo.state.calls`), one
request's hold on it with the compare-and-set retry policy (:mod:`~kookoo.state.session`),
limits that outlive a call (:mod:`~kookoo.state.limits`) and the stores
(:mod:`kookoo.state.stores`: calls, and values for kookoo's own records). Imports
:mod:`kookoo.core` and :mod:`kookoo.protocol`."""
