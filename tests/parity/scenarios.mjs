// Parity scenarios, the official TypeScript client's side (@lmstudio/sdk 2.0.0).
//
// Usage: node scenarios.mjs ws://127.0.0.1:PORT SCENARIO [API_TOKEN]
//        node scenarios.mjs --serve   (scenarios as JSON lines on stdin; what the suite uses)
//
// Runs one scenario with a fresh client against a server that records its traffic
// (`LMStudioServer(record=…)`), closes the client, and prints one JSON line on stdout:
//   {"scenario": "...", "ok": true} or {"scenario": "...", "ok": false, "error": "..."}
// The recorded frames, not this line, are what the parity suite compares with what our SDK
// sends for the same user action (tests/parity/_async/ours.py, same scenario names).
// Scenarios that expect an error catch it themselves: "ok" means the scenario went as planned.
//
// To add a scenario: a function here and one of the same name in _async/ours.py, doing
// the same thing a user would do with each SDK, and an entry in tests/parity/spec.py.

import { mkdtempSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

// The official client is installed once, for the conformance suite (tests/conformance).
const require = createRequire(new URL("../conformance/package.json", import.meta.url));
const { LMStudioClient, rawFunctionTool, tool } = require("@lmstudio/sdk");
const { z } = require("zod");

const LLM = "scripted-echo-1b";
const VISION = "scripted-vision-1b";
const EMBEDDING = "scripted-embed-small";
// The test plugin the plugin scenarios run against (PLUGIN in spec.py).
const PLUGIN = "tests/faulty";
const PLUGINS_KEY = "ext.lmstudioSdk.plugins";
const SCENARIO_TIMEOUT_MS = 15_000;

// A 1x1 PNG (the same bytes as PNG_BASE64 in _async/ours.py).
const PNG_BASE64 =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC";
const TEXT_BASE64 = Buffer.from("parity notes\n").toString("base64");
// Two documents for the retrieve scenario (the same texts as BREAD and PLANETS in _async/ours.py).
const BREAD_BASE64 = Buffer.from(
  "Knead the dough.\n\nBake the bread in a hot oven for thirty minutes.\n",
).toString("base64");
const PLANETS_BASE64 = Buffer.from(
  "Saturn has rings.\n\nJupiter has many moons and a great red spot.\n",
).toString("base64");

const SAMPLING = {
  temperature: 0.5,
  maxTokens: 20,
  topKSampling: 40,
  topPSampling: 0.9,
  minPSampling: 0.05,
  repeatPenalty: 1.1,
};
const JSON_SCHEMA = {
  type: "object",
  properties: { city: { type: "string" } },
  required: ["city"],
};
const WEATHER_TOOL = {
  type: "function",
  function: {
    name: "get_weather",
    description: "The weather in a city",
    parameters: JSON_SCHEMA,
  },
};

// Tools for act(), from JSON schemas (as tool_from_schema in _async/ours.py).
const weatherTool = () =>
  rawFunctionTool({
    name: "get_weather",
    description: "The weather in a city",
    parametersJsonSchema: JSON_SCHEMA,
    implementation: ({ city }) => `Sunny in ${city}`,
  });
const timeTool = () =>
  rawFunctionTool({
    name: "get_time",
    description: "The time in a city",
    parametersJsonSchema: JSON_SCHEMA,
    implementation: ({ city }) => ({ city, time: "12:00" }),
  });
const failingTool = () =>
  rawFunctionTool({
    name: "get_weather",
    description: "The weather in a city",
    parametersJsonSchema: JSON_SCHEMA,
    implementation: () => {
      throw new Error("the weather service is down");
    },
  });
const WEATHER_CALL = '!tool get_weather {"city": "Paris"}';

// Every load option both SDKs map (the speculative-decoding ones are their helper's scenarios).
const EVERY_LOAD_OPTION = {
  autoFit: false,
  gpu: { ratio: 0.5, numCpuExpertLayersRatio: 0.25, mainGpu: 0, splitStrategy: "favorMainGpu", disabledGpus: [1] },
  gpuStrictVramCap: true,
  maxParallelPredictions: 2,
  useUnifiedKvCache: false,
  offloadKVCacheToGpu: false,
  contextLength: 2048,
  promptTemplate: { type: "jinja", jinjaPromptTemplate: { template: "{{ messages }}" } },
  ropeFrequencyBase: 10000,
  ropeFrequencyScale: false,
  evalBatchSize: 128,
  physicalBatchSize: 64,
  flashAttention: true,
  contextCheckpoints: 3,
  reasoningBudgetMessage: "Enough thinking.",
  keepModelInMemory: true,
  seed: 42,
  tryMmap: false,
  tryDirectIO: true,
  llamaCppArgumentsOverride: {
    enabled: true,
    disabledParameters: ["--no-warmup"],
    overrideParameters: [{ key: "--threads", value: "2" }],
    excludeAllConfig: false,
  },
  numExperts: 2,
  llamaKCacheQuantizationType: "q8_0",
  llamaVCacheQuantizationType: false,
  mlxDiskCache: true,
  mlxKvCacheQuantization: { enabled: true, bits: 4, groupSize: 64, quantizedStart: 512 },
};
const EVERY_EMBEDDING_LOAD_OPTION = {
  gpu: { ratio: 1, mainGpu: 0, splitStrategy: "evenly", disabledGpus: [] },
  contextLength: 512,
  ropeFrequencyBase: false,
  ropeFrequencyScale: 2,
  keepModelInMemory: false,
  tryMmap: true,
};
const EVERY_PREDICTION_OPTION = {
  maxTokens: 30,
  reasoningBudget: 100,
  temperature: 0.3,
  stopStrings: ["\n\n"],
  toolCallStopStrings: ["</tool>"],
  contextOverflowPolicy: "rollingWindow",
  toolChoice: { type: "generic", mode: "none" },
  toolNaming: "snakeCase",
  topKSampling: 20,
  repeatPenalty: false,
  presencePenalty: 0.1,
  minPSampling: false,
  topPSampling: 0.95,
  xtcProbability: 0.2,
  xtcThreshold: 0.1,
  logProbs: 3,
  cpuThreads: 2,
  enableThinking: false,
  promptTemplate: {
    type: "manual",
    manualPromptTemplate: { beforeSystem: "<s>", afterSystem: "</s>", beforeUser: "<u>", afterUser: "</u>", beforeAssistant: "<a>", afterAssistant: "</a>" },
    stopStrings: ["</a>"],
  },
  userMaxImageDimensionPixels: 512,
  ignoreModelPreferredMaxImageDimension: true,
};

// A raw completion takes no tools nor a reasoning budget (both SDKs refuse them there).
const {
  toolChoice: _toolChoice,
  reasoningBudget: _reasoningBudget,
  ...EVERY_COMPLETION_OPTION
} = EVERY_PREDICTION_OPTION;

async function expectError(promise) {
  try {
    await promise;
  } catch {
    return;
  }
  throw new Error("expected the call to fail, but it succeeded");
}

async function drain(prediction) {
  for await (const _fragment of prediction) {
    // consume every fragment, as a user printing them would
  }
  return await prediction.result();
}

const SCENARIOS = {
  // -- system ----------------------------------------------------------------------------------
  version: (c) => c.system.getLMStudioVersion(),
  list_downloaded: (c) => c.system.listDownloadedModels(),
  list_downloaded_llm: (c) => c.system.listDownloadedModels("llm"),
  list_downloaded_embedding: (c) => c.system.listDownloadedModels("embedding"),
  system_info: (c) => c.system.getInfo(),
  list_variants: (c) => c.system.listDownloadedModelVariants(LLM),
  notify: (c) => c.system.notify({ title: "Parity", description: "done", noAutoDismiss: true }),
  experiment_flags: async (c) => {
    await c.system.unstable_setExperimentFlag("parity-flag", true);
    await c.system.unstable_getExperimentFlags();
  },
  // A guest may not shut the server down.
  error_request_shutdown: (c) => expectError(c.system.requestShutdown()),
  when_disconnected: async (c) => {
    // Subscribe, then leave (the client's disposal ends the wait).
    c.system.whenDisconnected().catch(() => {});
    await c.system.getLMStudioVersion();
  },
  error_http_server: async (c) => {
    await expectError(c.system.startHttpServer({ port: 41999, cors: true }));
    await expectError(c.system.stopHttpServer());
  },

  // -- runtime ---------------------------------------------------------------------------------
  runtime_engines: async (c) => {
    await c.runtime.engine.list();
    await c.runtime.engine.getSelections();
  },
  select_engine: async (c) => {
    const [engine] = await c.runtime.engine.list();
    await c.runtime.engine.select({ name: engine.name, version: engine.version }, "GGUF");
  },
  survey_hardware: (c) => c.runtime.surveyHardware(),
  survey_hardware_all: (c) => c.runtime.surveyHardware({ type: "all" }),

  // -- diagnostics -----------------------------------------------------------------------------
  stream_logs: async (c) => {
    const stop = c.diagnostics.unstable_streamLogs(() => {});
    // 2.0 subscribes in the background: give the subscription time to reach the server.
    await new Promise((resolve) => setTimeout(resolve, 300));
    stop();
    await new Promise((resolve) => setTimeout(resolve, 100)); // the unsubscribe goes out
  },

  // Run against a server that requires API_TOKEN (given on the command line).
  auth_api_token: async (c) => {
    await c.llm.listLoaded();
    await c.system.listDownloadedModels();
  },

  // -- model management ------------------------------------------------------------------------
  list_loaded: (c) => c.llm.listLoaded(),
  list_loaded_embedding: (c) => c.embedding.listLoaded(),
  get_or_load: (c) => c.llm.model(LLM),
  // Ours with ttl=None: no TTL, the TypeScript SDK's default.
  get_or_load_without_ttl: (c) => c.llm.model(LLM),
  get_or_load_with_config: (c) => c.llm.model(LLM, { ttl: 120, config: { contextLength: 1024 } }),
  any_loaded: async (c) => {
    await c.llm.model(LLM);
    await c.llm.model();
  },
  load_with_config_and_progress: async (c) => {
    const progress = [];
    await c.llm.load(LLM, {
      identifier: "parity-load",
      ttl: 300,
      config: { contextLength: 2048, evalBatchSize: 256, flashAttention: true, seed: 7 },
      onProgress: (p) => progress.push(p),
    });
    if (progress.length === 0) throw new Error("no load progress");
  },
  load_every_option: (c) => c.llm.load(LLM, { config: EVERY_LOAD_OPTION }),
  load_embedding_every_option: (c) =>
    c.embedding.load(EMBEDDING, { config: EVERY_EMBEDDING_LOAD_OPTION }),
  load_cancel: async (c) => {
    const controller = new AbortController();
    await expectError(
      c.llm.load(LLM, { signal: controller.signal, onProgress: () => controller.abort() }),
    );
    await c.llm.listLoaded(); // the cancel went out before this
  },
  load_embedding: (c) => c.embedding.load(EMBEDDING, { config: { contextLength: 256 } }),
  unload_by_identifier: async (c) => {
    await c.llm.load(LLM, { identifier: "parity-unload" });
    await c.llm.unload("parity-unload");
  },
  unload_handle: async (c) => {
    const model = await c.llm.load(LLM, { identifier: "parity-unload" });
    await model.unload();
  },
  dynamic_handle_path: async (c) => {
    const model = await c.llm.load(LLM);
    await c.llm.createDynamicHandle({ path: model.path }).countTokens("hello parity");
  },
  dynamic_handle: async (c) => {
    await c.llm.load(LLM, { identifier: "parity-dynamic" });
    const handle = c.llm.createDynamicHandle("parity-dynamic");
    await handle.respond("hello parity");
    await handle.countTokens("hello parity");
  },
  embedding_any_loaded: async (c) => {
    await c.embedding.model(EMBEDDING);
    await c.embedding.model();
  },
  embedding_unload_by_identifier: async (c) => {
    await c.embedding.load(EMBEDDING, { identifier: "parity-unload" });
    await c.embedding.unload("parity-unload");
  },
  embedding_model_info: async (c) => (await c.embedding.model(EMBEDDING)).getModelInfo(),
  embedding_load_config: async (c) => (await c.embedding.model(EMBEDDING)).getLoadConfig(),
  embedding_context_length: async (c) =>
    (await c.embedding.model(EMBEDDING)).getContextLength(),
  embedding_unload_handle: async (c) => {
    const model = await c.embedding.load(EMBEDDING, { identifier: "parity-unload" });
    await model.unload();
  },
  model_info: async (c) => {
    const model = await c.llm.model(LLM);
    await model.getModelInfo();
  },
  load_config: async (c) => {
    const model = await c.llm.model(LLM);
    await model.getLoadConfig();
  },
  context_length: async (c) => {
    const model = await c.llm.model(LLM);
    await model.getContextLength();
  },

  // -- model helpers, full queries, LM Link devices (issue 11 item 6) ---------------------------
  processing_state: async (c) => {
    const model = await c.llm.model(LLM);
    await model.getInstanceProcessingState();
  },
  embedding_processing_state: async (c) =>
    (await c.embedding.model(EMBEDDING)).getInstanceProcessingState(),
  base_prediction_config: async (c) => {
    const model = await c.llm.model(LLM);
    await model.getBasePredictionConfig();
  },
  estimate_usage: (c) => c.llm.estimateResourcesUsage(LLM, { contextLength: 1024 }),
  estimate_usage_embedding: (c) =>
    c.embedding.estimateResourcesUsage(EMBEDDING, { contextLength: 256 }, { deviceIdentifier: null }),
  model_query: async (c) => {
    await c.llm.load(VISION, { identifier: "parity-eyes" });
    const handle = c.llm.createDynamicHandle({
      path: "lmstudio-sdk/scripted-vision-1b-GGUF",
      vision: true,
    });
    await handle.countTokens("hello parity");
  },
  local_device: async (c) => {
    await c.llm.load(LLM, { identifier: "parity-local", deviceIdentifier: null });
    await c.llm.unload("parity-local", { deviceIdentifier: null });
  },

  // -- predictions -----------------------------------------------------------------------------
  respond: async (c) => {
    const model = await c.llm.model(LLM);
    await model.respond("hello parity");
  },
  respond_stream: async (c) => {
    const model = await c.llm.model(LLM);
    await drain(model.respond([{ role: "user", content: "hello parity" }]));
  },
  respond_history: async (c) => {
    const model = await c.llm.model(LLM);
    await model.respond([
      { role: "system", content: "Be brief." },
      { role: "user", content: "first" },
      { role: "assistant", content: "You said: first" },
      { role: "user", content: "second" },
    ]);
  },
  respond_sampling: async (c) => {
    const model = await c.llm.model(LLM);
    await model.respond("hello parity", SAMPLING);
  },
  respond_every_option: async (c) => {
    const model = await c.llm.model(LLM);
    await model.respond("hello parity", EVERY_PREDICTION_OPTION);
  },
  complete_every_option: async (c) => {
    const model = await c.llm.model(LLM);
    await model.complete("Once upon a time", EVERY_COMPLETION_OPTION);
  },
  respond_stop_strings: async (c) => {
    const model = await c.llm.model(LLM);
    await model.respond("hello parity", { stopStrings: ["parity"], maxTokens: false });
  },
  respond_structured: async (c) => {
    const model = await c.llm.model(LLM);
    await model.respond("{\"city\": \"Paris\"}", {
      structured: { type: "json", jsonSchema: JSON_SCHEMA },
    });
  },
  respond_structured_typed: async (c) => {
    const model = await c.llm.model(LLM);
    const City = z.object({ city: z.string(), population: z.number().int().optional() });
    await model.respond('!say {"city": "Paris"}', { structured: City });
  },
  respond_tools: async (c) => {
    const model = await c.llm.model(LLM);
    await model.respond('!tool get_weather {"city": "Paris"}', {
      rawTools: { type: "toolArray", tools: [WEATHER_TOOL] },
    });
  },
  respond_image: async (c) => {
    const image = await c.files.prepareImageBase64("pixel.png", PNG_BASE64);
    const model = await c.llm.model(VISION);
    await model.respond([{ role: "user", content: "Describe this image.", images: [image] }]);
  },
  prepare_file_path: async (c) => {
    const folder = mkdtempSync(join(tmpdir(), "parity-"));
    writeFileSync(join(folder, "notes.txt"), "parity notes\n");
    writeFileSync(join(folder, "pixel.png"), Buffer.from(PNG_BASE64, "base64"));
    await c.files.prepareFile(join(folder, "notes.txt"));
    await c.files.prepareImage(join(folder, "pixel.png"));
  },
  file_path: async (c) => {
    const file = await c.files.prepareFileBase64("notes.txt", TEXT_BASE64);
    await file.getFilePath();
  },
  respond_file: async (c) => {
    const file = await c.files.prepareFileBase64("notes.txt", TEXT_BASE64);
    const model = await c.llm.model(LLM);
    // 2.0's chat input takes file handles only under `images` (they become file parts).
    await model.respond([{ role: "user", content: "Summarise the file.", images: [file] }]);
  },
  parse_document: async (c) => {
    const file = await c.files.prepareFileBase64("notes.txt", TEXT_BASE64);
    await c.files.getDocumentParsingLibrary(file);
    await c.files.parseDocument(file);
  },
  retrieve: async (c) => {
    const embedding = await c.embedding.model(EMBEDDING);
    const bread = await c.files.prepareFileBase64("bread.txt", BREAD_BASE64);
    const planets = await c.files.prepareFileBase64("planets.txt", PLANETS_BASE64);
    await c.files.retrieve("When is the bread baked?", [bread, planets], {
      embeddingModel: embedding,
      limit: 2,
      chunkingMethod: { type: "recursive-v1", chunkSize: 24, chunkOverlap: 4 },
      onSearchingEnd: () => {},
    });
  },
  respond_reasoning: async (c) => {
    const model = await c.llm.model(LLM);
    await model.respond("!think about parity", {
      reasoningParsing: { enabled: true, startString: "<think>", endString: "</think>" },
    });
  },
  complete: async (c) => {
    const model = await c.llm.model(LLM);
    await model.complete("Once upon a time", { maxTokens: 5 });
  },
  cancel: async (c) => {
    const model = await c.llm.model(LLM);
    const prediction = model.respond("!long 200");
    let fragments = 0;
    for await (const _fragment of prediction) {
      if (++fragments === 3) await prediction.cancel();
    }
    const result = await prediction.result();
    if (result.stats.stopReason !== "userStopped") {
      throw new Error(`stop reason ${result.stats.stopReason}`);
    }
  },

  // -- act() ---------------------------------------------------------------------------------
  act_no_tool_call: async (c) => {
    const model = await c.llm.model(LLM);
    await model.act("hello parity", [weatherTool()]);
  },
  act_without_tools: async (c) => {
    const model = await c.llm.model(LLM);
    await model.act("hello parity", []);
  },
  act_tool_round: async (c) => {
    const model = await c.llm.model(LLM);
    const result = await model.act(WEATHER_CALL, [weatherTool()]);
    if (result.rounds !== 2) throw new Error(`${result.rounds} rounds`);
  },
  act_several_tools: async (c) => {
    const model = await c.llm.model(LLM);
    await model.act(`${WEATHER_CALL}\n!tool get_time {"city": "Paris"}`, [
      weatherTool(),
      timeTool(),
    ]);
  },
  act_typed_tool: async (c) => {
    const model = await c.llm.model(LLM);
    const add = tool({
      name: "add",
      description: "Add two numbers",
      parameters: { a: z.number().int(), b: z.number().int() },
      implementation: ({ a, b }) => a + b,
    });
    await model.act('!tool add {"a": 2, "b": 3}', [add]);
  },
  act_history_and_config: async (c) => {
    const model = await c.llm.model(LLM);
    await model.act(
      [
        { role: "system", content: "Use tools." },
        { role: "user", content: WEATHER_CALL },
      ],
      [weatherTool()],
      { temperature: 0.2, maxTokens: 50 },
    );
  },
  act_max_rounds: async (c) => {
    const model = await c.llm.model(LLM);
    await model.act(WEATHER_CALL, [weatherTool()], { maxPredictionRounds: 1 });
  },
  act_tool_error: async (c) => {
    const model = await c.llm.model(LLM);
    await expectError(model.act(WEATHER_CALL, [failingTool()]));
  },
  // Ours with on_tool_error="raise": the same as the TypeScript SDK's only behaviour.
  act_tool_error_raise: async (c) => {
    const model = await c.llm.model(LLM);
    await expectError(model.act(WEATHER_CALL, [failingTool()]));
  },
  act_guard_deny: async (c) => {
    const model = await c.llm.model(LLM);
    await model.act(WEATHER_CALL, [weatherTool()], {
      guardToolCall: (_round, _callId, controller) => controller.deny("not today"),
    });
  },
  act_guard_override: async (c) => {
    const model = await c.llm.model(LLM);
    await model.act(WEATHER_CALL, [weatherTool()], {
      guardToolCall: (_round, _callId, controller) =>
        controller.allowAndOverrideParameters({ city: "Lyon" }),
    });
  },
  act_unknown_tool: async (c) => {
    const model = await c.llm.model(LLM);
    // 2.0 fails act() when the model calls a tool it was not given, and stops the prediction.
    await expectError(model.act(`!tool no_such_tool {"city": "Paris"}\n${WEATHER_CALL}`, [weatherTool()]));
  },

  // -- tokens and templates --------------------------------------------------------------------
  tokenize: async (c) => {
    const model = await c.llm.model(LLM);
    await model.tokenize("hello parity world");
  },
  tokenize_list: async (c) => {
    const model = await c.llm.model(LLM);
    await model.tokenize(["hello", "parity world"]);
  },
  count_tokens: async (c) => {
    const model = await c.llm.model(LLM);
    await model.countTokens("hello parity world");
  },
  apply_prompt_template: async (c) => {
    const model = await c.llm.model(LLM);
    await model.applyPromptTemplate([
      { role: "system", content: "Be brief." },
      { role: "user", content: "template me" },
    ]);
  },

  // -- embeddings ------------------------------------------------------------------------------
  embed_one: async (c) => {
    const model = await c.embedding.model(EMBEDDING);
    await model.embed("hello parity");
  },
  embed_list: async (c) => {
    const model = await c.embedding.model(EMBEDDING);
    await model.embed(["first", "second", "third"]);
  },
  embedding_tokens: async (c) => {
    const model = await c.embedding.model(EMBEDDING);
    await model.tokenize("hello parity");
    await model.countTokens("hello parity");
  },

  // -- repository (the server has a catalogue: tests/repository/catalog_kit.py) -----------------
  search_models: (c) =>
    c.repository.searchModels({ searchTerm: "tiny", limit: 5, compatibilityTypes: ["gguf"] }),
  search_models_all: (c) => c.repository.searchModels({}),
  download_options: async (c) => {
    const [entry] = await c.repository.searchModels({ searchTerm: "Tiny-Chat-GGUF" });
    await entry.getDownloadOptions();
  },
  download: async (c) => {
    const [entry] = await c.repository.searchModels({ searchTerm: "Tiny-Chat-GGUF" });
    const options = await entry.getDownloadOptions();
    const option = options.find((o) => o.quantization === "Q4_K_M");
    const progress = [];
    let finalizing = false;
    const key = await option.download({
      onProgress: (update) => progress.push(update),
      onStartFinalizing: () => (finalizing = true),
    });
    if (!key || progress.length === 0 || !finalizing) throw new Error("no progress");
    await c.system.listDownloadedModels();
  },
  download_cancel: async (c) => {
    const [entry] = await c.repository.searchModels({ searchTerm: "Big-Llama-GGUF" });
    const [option] = await entry.getDownloadOptions();
    const controller = new AbortController();
    // 2.0's download() leaves the promise of its own `promise.finally(...)` unhandled: an
    // abort would end Node with an unhandled rejection (this process ends with the scenario).
    process.on("unhandledRejection", () => {});
    await expectError(
      option.download({ onProgress: () => controller.abort(), signal: controller.signal }),
    );
    // The cancel goes out: wait until the server has closed the channel.
    await c.system.listDownloadedModels();
  },
  lm_link_status: (c) => c.repository.lmLink.status(),
  error_lm_link: async (c) => {
    await expectError(c.repository.lmLink.setDisabled(true));
    await expectError(c.repository.lmLink.updateDeviceName("parity"));
    await expectError(c.repository.lmLink.setPreferredDevice("parity-device"));
  },
  // Refused before anything is sent (both SDKs check the limit).
  error_search_limit: (c) =>
    expectError(c.repository.searchModels({ searchTerm: "tiny", limit: 1000 })),

  // -- plugins (the server hosts the test plugin PLUGIN) ----------------------------------------
  generator_respond: async (c) => {
    const generator = c.plugins.createGeneratorHandle(PLUGIN);
    await generator.respond("make it loud");
  },
  generator_stream: async (c) => {
    const generator = c.plugins.createGeneratorHandle(PLUGIN);
    await drain(generator.respond([{ role: "user", content: "make it loud" }]));
  },
  generator_error: async (c) => {
    const generator = c.plugins.createGeneratorHandle(PLUGIN);
    await expectError(generator.respond("raise"));
  },
  // The test generator calls the first tool it is offered ({"a": 1}) after its words; the
  // second round offers none, so it only answers.
  generator_act: async (c) => {
    const generator = c.plugins.createGeneratorHandle(PLUGIN);
    const half = rawFunctionTool({
      name: "half",
      description: "Half a number",
      parametersJsonSchema: { type: "object", properties: { a: { type: "number" } }, required: ["a"] },
      implementation: ({ a }) => a / 2,
    });
    const result = await generator.act("make it loud", [half], { maxPredictionRounds: 2 });
    if (result.rounds !== 2) throw new Error(`${result.rounds} rounds`);
  },
  generator_cancel: async (c) => {
    const prediction = c.plugins.createGeneratorHandle(PLUGIN).respond("hang");
    setTimeout(() => prediction.cancel(), 200);
    await prediction.result().catch(() => {});
  },
  plugin_tools_config: async (c) => {
    const session = await c.plugins.pluginTools(PLUGIN, {
      pluginConfig: { fields: [{ key: "count", value: 5 }] },
      workingDirectory: "/tmp",
    });
    session[Symbol.dispose]();
    await new Promise((resolve) => setTimeout(resolve, 100)); // the discard goes out
  },
  plugin_tools: async (c) => {
    const session = await c.plugins.pluginTools(PLUGIN);
    try {
      const add = session.tools.find((t) => t.name === "add");
      const context = { status: () => {}, warn: () => {}, signal: new AbortController().signal, callId: 1 };
      const sum = await add.implementation({ a: 2, b: 3 }, context);
      if (sum !== 5) throw new Error(`add returned ${sum}`);
    } finally {
      session[Symbol.dispose]();
    }
    await new Promise((resolve) => setTimeout(resolve, 100)); // the discard goes out
  },
  plugin_tools_act: async (c) => {
    const session = await c.plugins.pluginTools(PLUGIN);
    try {
      const model = await c.llm.model(LLM);
      await model.act('!tool add {"a": 2, "b": 3}', session.tools);
    } finally {
      session[Symbol.dispose]();
    }
    await new Promise((resolve) => setTimeout(resolve, 100)); // the discard goes out
  },
  preprocessed_prediction: async (c) => {
    const model = await c.llm.model(LLM);
    await model.respond("hello parity", {
      raw: {
        fields: [
          { key: PLUGINS_KEY, value: [{ identifier: PLUGIN, config: { count: 3, loud: true } }] },
        ],
      },
    });
  },

  // -- errors ----------------------------------------------------------------------------------
  error_unknown_model: (c) => expectError(c.llm.model("no-such-model")),
  error_unknown_preset: async (c) => {
    const model = await c.llm.model(LLM);
    await expectError(model.respond("hello parity", { preset: "parity-preset", temperature: 0.1 }));
  },
  error_prediction: async (c) => {
    const model = await c.llm.model(LLM);
    await expectError(model.respond("!error"));
  },
  error_complete_tools: async (c) => {
    const model = await c.llm.model(LLM);
    // 2.0 throws at once (not a rejected promise).
    await expectError((async () => model.complete("Once", { toolChoice: { type: "generic", mode: "required" } }))());
    await expectError((async () => model.complete("Once", { reasoningBudget: 100 }))());
  },
  error_unload_unknown: (c) => expectError(c.llm.unload("no-such-instance")),
  // The scripted engine has no speculative decoding: both calls are refused.
  error_draft_model: async (c) => {
    const model = await c.llm.model(LLM);
    await expectError(
      model.respond("hello parity", {
        draftModel: LLM,
        speculativeDecodingMinDraftLengthToConsider: 2,
        speculativeDecodingMinContinueDraftingProbability: 0.5,
      }),
    );
  },
  error_preload_draft_model: async (c) => {
    const model = await c.llm.model(LLM);
    await expectError(model.unstable_preloadDraftModel(LLM));
  },
  error_load_unknown: async (c) => {
    await expectError(c.llm.load("no-such-model"));
    await expectError(c.embedding.load("no-such-embedding"));
  },
  error_bad_config: (c) => expectError(c.llm.load(LLM, { config: { contextLength: -5 } })),
  error_wrong_domain: (c) => expectError(c.embedding.model(LLM)),
};

async function runScenario(baseUrl, name, apiToken) {
  const scenario = SCENARIOS[name];
  if (!scenario) return { scenario: name, ok: false, error: `no scenario named ${name}` };
  const logger = { debug: () => {}, info: () => {}, warn: console.error, error: console.error };
  const client = new LMStudioClient({ baseUrl, logger, ...(apiToken ? { apiToken } : {}) });
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error("scenario timed out")), SCENARIO_TIMEOUT_MS);
  });
  let outcome;
  try {
    await Promise.race([scenario(client), timeout]);
    outcome = { scenario: name, ok: true };
  } catch (error) {
    outcome = { scenario: name, ok: false, error: String(error?.stack ?? error) };
  } finally {
    clearTimeout(timer);
    await Promise.race([
      client[Symbol.asyncDispose]().catch(() => {}),
      new Promise((resolve) => setTimeout(resolve, 2000)),
    ]);
  }
  return outcome;
}

// --serve: one scenario per line of stdin, {"url": ..., "name": ..., "apiToken": ...}, one
// outcome line each on stdout, in order; the suite keeps one Node process for all of them
// (starting Node and loading the SDK costs more than most scenarios).
async function serve() {
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.trim()) continue;
    let outcome;
    try {
      const { url, name, apiToken } = JSON.parse(line);
      outcome = await runScenario(url, name, apiToken);
    } catch (error) {
      outcome = { scenario: null, ok: false, error: String(error?.stack ?? error) };
    }
    process.stdout.write(JSON.stringify(outcome) + "\n");
  }
}

async function main() {
  if (process.argv[2] === "--serve" && process.argv.length === 3) {
    await serve();
    return;
  }
  const [baseUrl, name, apiToken, ...extra] = process.argv.slice(2);
  if (!baseUrl || !SCENARIOS[name] || extra.length > 0) {
    process.stderr.write(
      `usage: node scenarios.mjs ws://HOST:PORT SCENARIO [API_TOKEN] | --serve\nscenarios: ${Object.keys(SCENARIOS).join(" ")}\n`,
    );
    process.exit(2);
  }
  const outcome = await runScenario(baseUrl, name, apiToken);
  process.stdout.write(JSON.stringify(outcome) + "\n");
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`fatal: ${error}\n`);
    process.exit(1);
  },
);
