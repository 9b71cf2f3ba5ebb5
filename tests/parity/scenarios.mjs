// Parity scenarios, the official TypeScript client's side (@lmstudio/sdk 2.0.0).
//
// Usage: node scenarios.mjs ws://127.0.0.1:PORT SCENARIO [API_TOKEN]
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

import { createRequire } from "node:module";

// The official client is installed once, for the conformance suite (tests/conformance).
const require = createRequire(new URL("../conformance/package.json", import.meta.url));
const { LMStudioClient } = require("@lmstudio/sdk");

const LLM = "scripted-echo-1b";
const VISION = "scripted-vision-1b";
const EMBEDDING = "scripted-embed-small";
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
  load_embedding: (c) => c.embedding.load(EMBEDDING, { config: { contextLength: 256 } }),
  unload_by_identifier: async (c) => {
    await c.llm.load(LLM, { identifier: "parity-unload" });
    await c.llm.unload("parity-unload");
  },
  unload_handle: async (c) => {
    const model = await c.llm.load(LLM, { identifier: "parity-unload" });
    await model.unload();
  },
  dynamic_handle: async (c) => {
    await c.llm.load(LLM, { identifier: "parity-dynamic" });
    const handle = c.llm.createDynamicHandle("parity-dynamic");
    await handle.respond("hello parity");
    await handle.countTokens("hello parity");
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

  // -- errors ----------------------------------------------------------------------------------
  error_unknown_model: (c) => expectError(c.llm.model("no-such-model")),
  error_prediction: async (c) => {
    const model = await c.llm.model(LLM);
    await expectError(model.respond("!error"));
  },
  error_unload_unknown: (c) => expectError(c.llm.unload("no-such-instance")),
};

async function main() {
  const [baseUrl, name, apiToken, ...extra] = process.argv.slice(2);
  const scenario = SCENARIOS[name];
  if (!baseUrl || !scenario || extra.length > 0) {
    process.stderr.write(
      `usage: node scenarios.mjs ws://HOST:PORT SCENARIO [API_TOKEN]\nscenarios: ${Object.keys(SCENARIOS).join(" ")}\n`,
    );
    process.exit(2);
  }
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
  process.stdout.write(JSON.stringify(outcome) + "\n");
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`fatal: ${error}\n`);
    process.exit(1);
  },
);
