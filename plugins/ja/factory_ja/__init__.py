"""koalpaca-factory-ja: the Japanese (``ja``) language plugin, on SudachiPy morphemes.

Registered through the ``factory`` entry-point group. Importing this package
does not import sudachipy: the dictionary loads on the first analysis.
"""

from factory.hookspecs import hookimpl

from factory_ja.language import Japanese

__all__ = ["Japanese", "register_languages"]


@hookimpl
def register_languages(register):
    register("ja", Japanese)
