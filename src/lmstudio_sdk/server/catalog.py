"""Every endpoint of LM Studio's SDK API as TS SDK 2.0.0 knows it, per namespace (pure data).

A call to one of these that this server does not handle gets an "…Unhandled" warning, anything
else "…Unknown" (LM Studio's own distinction).
"""

from __future__ import annotations

__all__ = ["KNOWN_ENDPOINTS"]

# Every endpoint of TS SDK 2.0.0 (rpc names, channel names): calls to one of these that this
# server does not handle get "…Unhandled" warnings, anything else "…Unknown".
_MODEL_RPCS = {
    "countTokens",
    "estimateModelUsage",
    "getBasePredictionConfig",
    "getInstanceProcessingState",
    "getLoadConfig",
    "getModelInfo",
    "listLoaded",
    "tokenize",
    "unloadModel",
}


KNOWN_ENDPOINTS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "/llm": (
        frozenset(_MODEL_RPCS | {"applyPromptTemplate", "preloadDraftModel"}),
        frozenset({"completeRawText", "getOrLoad", "loadModel", "predict"}),
    ),
    "/embedding": (
        frozenset(_MODEL_RPCS | {"embedString"}),
        frozenset({"getOrLoad", "loadModel"}),
    ),
    "/system": (
        frozenset(
            {
                "getExperimentFlags",
                "info",
                "listDownloadedModelVariants",
                "listDownloadedModels",
                "notify",
                "requestShutdown",
                "setExperimentFlag",
                "startHttpServer",
                "stopHttpServer",
                "version",
            }
        ),
        frozenset({"alive"}),
    ),
    "/diagnostics": (frozenset(), frozenset({"streamLogs"})),
    "/files": (
        frozenset({"getDocumentParsingLibrary", "getLocalFileAbsolutePath", "uploadFileBase64"}),
        frozenset({"parseDocument", "retrieve"}),
    ),
    "/repository": (
        frozenset(
            {
                "deauthenticate",
                "fuzzyFindStaffPicks",
                "getAuthenticationStatus",
                "getLocalArtifactFiles",
                "getModelCatalog",
                "getModelDownloadOptions",
                "getWritableArtifactOwners",
                "installLocalPlugin",
                "installPluginDependencies",
                "isAuthenticated",
                "lmLinkSetDisabled",
                "lmLinkSetPreferredDevice",
                "lmLinkStatus",
                "lmLinkUpdateDeviceName",
                "loginAsComputeDevice",
                "loginWithPreAuthenticatedKeys",
                "searchModels",
            }
        ),
        frozenset(
            {
                "createDownloadPlan",
                "downloadArtifact",
                "downloadModel",
                "ensureAuthenticated",
                "pushArtifact",
            }
        ),
    ),
    "/plugins": (
        frozenset(
            {
                "pluginInitCompleted",
                "processingGetOrLoadTokenSource",
                "processingHandleRequest",
                "processingHandleUpdate",
                "processingHasStatus",
                "processingNeedsNaming",
                "processingPullHistory",
                "processingSetSenderName",
                "processingSuggestName",
                "reindexPlugins",
                "reportError",
                "setConfigSchematics",
                "setGlobalConfigSchematics",
            }
        ),
        frozenset(
            {
                "generateWithGenerator",
                "registerDevelopmentPlugin",
                "setGenerator",
                "setPredictionLoopHandler",
                "setPromptPreprocessor",
                "setToolsProvider",
                "startToolUseSession",
            }
        ),
    ),
    "/runtime": (
        frozenset(
            {
                "getEngineSelections",
                "listEngines",
                "removeEngine",
                "searchRuntimeExtensions",
                "selectEngine",
                "surveyHardware",
            }
        ),
        frozenset({"downloadRuntimeExtension"}),
    ),
}
