"""Benchmarks of lmstudio-sdk against the official SDK, raw websockets and llama-cpp-python.

Run ``python -m benchmarks.run [--quick]``; see ``benchmarks/README.md``. Not part of the test
suite: nothing here passes or fails a build.
"""
