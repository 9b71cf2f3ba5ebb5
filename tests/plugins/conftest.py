"""Fixtures of the plugin tests (defined in ``harness`` so that tests/_async can use them)."""

from tests.plugins.harness import faulty, plugin_server

__all__ = ["faulty", "plugin_server"]
