"""Test helpers that ship with the core: loopback servers speaking real wire protocols.

Tests and benchmarks point the real client libraries at these servers, so no
test ever reaches the internet and every fault (429, 5xx, timeouts, broken
bodies) can be scripted. Standard library only.
"""
