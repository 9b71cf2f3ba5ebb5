"""Endpoint handlers, one module per namespace; each exports a ``TABLE`` the router composes.

``model_management`` holds the RPCs and channels /llm and /embedding share; ``context`` what
a handler receives; ``config`` the server's prediction defaults.
"""
