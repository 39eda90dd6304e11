"""koalpaca-factory-ko: the Korean (``ko``) language plugin, on the Kiwi morphological analyzer.

Registered through the ``factory`` entry-point group. Importing this package
does not import kiwipiepy: Kiwi loads on the first tokenization.
"""

from factory.hookspecs import hookimpl

from factory_ko.language import Korean

__all__ = ["Korean", "register_languages"]


@hookimpl
def register_languages(register):
    register("ko", Korean)
