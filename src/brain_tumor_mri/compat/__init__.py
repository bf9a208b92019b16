"""Every use of a third-party private or undocumented API, in one place.

Each function here names, in its docstring, the upstream issue it works around (or
why no public API exists) and the test in ``tests/compat/`` that fails when the
private API it relies on disappears or changes: Keras' and TensorFlow's private
modules, and Kedro's private filter of the pipelines a command asks for. Nothing
outside this package imports ``keras.src`` or ``tensorflow.python``
(``tests/test_imports.py``).
"""
