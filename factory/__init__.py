"""factory: a multilingual instruction-dataset factory.

Importing this package must stay cheap: no plugin, torch, openai, deepl,
kiwipiepy, datasets or huggingface_hub import happens here.
"""

__version__ = "0.1.0"
