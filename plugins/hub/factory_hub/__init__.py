"""koalpaca-factory-hub: the ``hub`` publisher (Hugging Face Hub datasets).

Registered through the ``factory`` entry-point group. Importing this package
does not import ``huggingface_hub`` (that happens on the first publish), so
listing plugins stays fast.
"""

from factory.hookspecs import hookimpl

from factory_hub.publisher import HubOptions, HubPublisher

__all__ = ["HubOptions", "HubPublisher", "register_publishers"]


@hookimpl
def register_publishers(register):
    register("hub", HubPublisher)
