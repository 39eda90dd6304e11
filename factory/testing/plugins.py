"""Register plugins in-process for a test, through the real hooks (pluggy), and take them away after."""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

from factory.plugins import register_in_process, unregister_in_process


@contextlib.contextmanager
def registered(*plugins: Any) -> Iterator[None]:
    """``with registered(my_module): ...``: the registry holds the plugins inside the block only."""
    for plugin in plugins:
        register_in_process(plugin)
    try:
        yield
    finally:
        for plugin in plugins:
            unregister_in_process(plugin)
