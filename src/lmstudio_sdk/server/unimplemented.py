"""Why this server leaves an endpoint of the protocol out: one reason per endpoint (a data
table), sent with the error that answers the call and listed in ``docs/server.md``.

The table names every endpoint the router has no handler for; ``tests/server/
test_endpoint_reasons.py`` checks that it and the router cover the 93 endpoints exactly once
and that the document says the same.
"""

from __future__ import annotations

__all__ = ["REASONS", "reason_for"]

_CATALOGUE = (
    "LM Studio Hub's curated catalogue and its download planner are not served: "
    "searchModels, getModelDownloadOptions and downloadModel serve `serve --catalog DIR`"
)
_HUB = "needs LM Studio Hub's account and artifact registry, which this server has no access to"
_LM_LINK = "LM Link needs LM Studio's cloud account to pair devices; this server has one device"
_PLUGINS = (
    "this server does not hand the prediction loop to plugins; a generator plugin "
    "(setGenerator) or a prompt preprocessor can replace or shape a prediction"
)
_PLUGIN_INSTALL = (
    "this server installs no plugins; it hosts the plugins that connect to it "
    "(lmstudio-sdk plugin run DIR / plugin dev DIR)"
)
_RUNTIMES = (
    "this server's engines are Python packages chosen with `serve --engine`, not LM Studio "
    "runtime extensions"
)

# (namespace, endpoint) → why this server does not implement it.
REASONS: dict[tuple[str, str], str] = {
    ("repository", "createDownloadPlan"): _CATALOGUE,
    ("repository", "downloadArtifact"): _HUB,
    ("repository", "getModelCatalog"): _CATALOGUE,
    ("repository", "fuzzyFindStaffPicks"): _CATALOGUE,
    ("repository", "getLocalArtifactFiles"): _HUB,
    ("repository", "pushArtifact"): _HUB,
    ("repository", "getWritableArtifactOwners"): _HUB,
    ("repository", "installLocalPlugin"): _PLUGIN_INSTALL,
    ("repository", "installPluginDependencies"): _PLUGIN_INSTALL,
    ("repository", "ensureAuthenticated"): _HUB,
    ("repository", "isAuthenticated"): _HUB,
    ("repository", "getAuthenticationStatus"): _HUB,
    ("repository", "deauthenticate"): _HUB,
    ("repository", "loginWithPreAuthenticatedKeys"): _HUB,
    ("repository", "loginAsComputeDevice"): _LM_LINK,
    ("repository", "lmLinkSetDisabled"): _LM_LINK,
    ("repository", "lmLinkSetPreferredDevice"): _LM_LINK,
    ("repository", "lmLinkUpdateDeviceName"): _LM_LINK,
    ("runtime", "removeEngine"): _RUNTIMES,
    ("runtime", "searchRuntimeExtensions"): _RUNTIMES,
    ("runtime", "downloadRuntimeExtension"): _RUNTIMES,
    ("plugins", "setPredictionLoopHandler"): _PLUGINS,
}


def reason_for(namespace: str, endpoint: str) -> str:
    """Why an endpoint the router does not handle is left out (``namespace`` with or without
    its slash)."""
    return REASONS.get((namespace.lstrip("/"), endpoint), "not implemented by this server yet")
