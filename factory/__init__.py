"""factory: a multilingual instruction-dataset factory.

Importing this package must stay cheap: no plugin, torch, openai, deepl,
kiwipiepy, datasets or huggingface_hub import happens here. It does check, in
a millisecond, that this folder is not shared with another package named
``factory`` (factory_boy), and refuses in one line when it is.
"""

from koalpaca_factory.guard import ensure_own_package

ensure_own_package()

__version__ = "0.1.0"


def __getattr__(name: str):
    # `from factory import hookimpl` in a plugin, without importing pluggy when the CLI only prints --help
    if name == "hookimpl":
        from factory.hookspecs import hookimpl

        return hookimpl
    raise AttributeError(f"module 'factory' has no attribute {name!r}")
