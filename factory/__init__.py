"""factory: a multilingual instruction-dataset factory.

Importing this package must stay cheap: no plugin, torch, openai, deepl,
kiwipiepy, datasets or huggingface_hub import happens here. It does check, in
a millisecond, that this folder is not shared with another package named
``factory`` (factory_boy), and refuses in one line when it is.
"""

from koalpaca_factory.guard import ensure_own_package

ensure_own_package()

__version__ = "0.1.0"
