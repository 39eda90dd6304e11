"""koalpaca-factory-deepl: the ``deepl`` translator plugin, on the official ``deepl`` client.

Registered through the ``factory`` entry-point group. Importing this package
does not import ``deepl`` (that happens when a translator is built), so
listing plugins stays fast.
"""

from factory.hookspecs import hookimpl

from factory_deepl.translator import DeepLOptions, DeepLTranslator

__all__ = ["DeepLOptions", "DeepLTranslator", "register_translators"]


@hookimpl
def register_translators(register):
    register("deepl", DeepLTranslator)
