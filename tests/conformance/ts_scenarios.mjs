// Conformance scenarios for the official TypeScript client, @lmstudio/sdk 2.0.0.
//
// Usage:
//   node ts_scenarios.mjs [--engine E] ws://127.0.0.1:PORT            # feature scenarios
//   node ts_scenarios.mjs [--engine E] ws://127.0.0.1:PORT API_TOKEN  # auth scenarios; the
//                                                  # server must have been started with API_TOKEN
//   node ts_scenarios.mjs --repository ws://127.0.0.1:PORT  # model search and download; the
//                  # server must have been started with the catalogue of tests/repository
//
// E is the server's engine, `scripted` (default) or `llama`; it selects the model keys, prompts
// and prediction settings from ENGINES below, and nothing else: the scenario code is the same.
//
// Prints one JSON line per scenario on stdout:
//   {"scenario": "...", "ok": true|false, "detail": {...}}
// "ok" means the scenario ran to its end without an unexpected error or time-out; "detail"
// holds what the client observed, and the pytest side (test_official_clients.py) checks those
// observations. Everything the client itself logs (e.g. payload validation warnings) is
// collected into detail.clientLog and goes to stderr, so stdout carries only JSON lines.
//
// This file only *uses* the official client; it never reaches into its internals.

import { LMStudioClient, rawFunctionTool } from "@lmstudio/sdk";
import { z } from "zod"; // the SDK's own dependency: its typed structured-output path

const LOAD_IDENTIFIER = "conformance-ts-load";
const UNKNOWN_MODEL = "no-such-model";
// Valid token format (sk-lm-<8 alphanumerics>:<20 alphanumerics>), but not the server's token.
const WRONG_TOKEN = "sk-lm-wrongTok:zzzzzzzzzzYYYYYYYYYY";

// A 16x16 RGB gradient PNG (463 bytes); py_official_scenarios.py sends the same image.
const IMAGE_PNG_BASE64 =
  "iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAABlklEQVR42hXRURVEIQhFUSMYgQhGMAIRiGCEE8EIRiAC" +
  "EYhABCLMG7/ZrMt1jMEcyGAN9kAHNjgDBnfwBj6IQQ5q0IMxJnMikzXZE53Y5EyY3Mmb+CQmOalJzw8IUxBhCVtQwYQj" +
  "IFzhCS6EkEIJLR9YzIUs1mIvdGGLs2BxF2/hi1jkoha9PrCZG9mszd7oxjZnw+Zu3sY3sclNbXp/QJmKKEvZiiqmHAXl" +
  "Kk9xJZRUSmn9gDENMZaxDTXMOAbGNZ7hRhhplNH2gcM8yGEd9kEPdjgHDvfwDn6IQx7q0OcD/wK/Sr4jv9hfkG/1N/x/" +
  "Fx44BCQU9Pc94zIvclmXfdGLXc79j9/Lu/glLnmpS98PPOZDHuuxH/qwx3n/5ffxHv6IRz7q0e8DznTEWc521DHn+D/K" +
  "dZ7jTjjplNP+gWAGEqxgBxpYcOIf/AYv8CCCDCro+EAyE0lWshNNLDn5P/MmL/Ekkkwq6fxAMQspVrELLaw49S/lFq/w" +
  "Ioosquj6QDMbaVazG22sOf2v8Dav8SaabKrp5geIAnAQC3NfwAAAAABJRU5ErkJggg==";

// What differs between engines. The scripted engine answers directives (`!long N`, `!error`)
// with exact echo text; llama.cpp gets real prompts, temperature 0 and few tokens.
const ENGINES = {
  scripted: {
    scenarioTimeoutMs: 8_000,
    llmKey: "scripted-echo-1b",
    visionKey: "scripted-vision-1b",
    embeddingKey: "scripted-embed-small",
    predictConfig: undefined,
    cancelPrompt: "!long 200",
    cancelConfig: undefined,
    requestedTokens: 200,
    cancelAfter: 3,
    errorPrompt: "!error",
    errorConfig: undefined,
    // The scripted engine ignores the schema: `!say` makes it answer with this JSON.
    structuredPrompt: '!say {"name": "Ada", "age": 36}',
    structuredConfig: {},
    // Two calls in one round, then the scripted model answers with the results.
    actPrompt: '!tool add {"a": 2, "b": 3}\n!tool multiply {"a": 4, "b": 5}',
    actConfig: {},
  },
  llama: {
    scenarioTimeoutMs: 30_000,
    llmKey: "smollm2-135m-instruct",
    // SmolLM2 with the tiny random projector installed beside it (--with-vision).
    visionKey: "smollm2-135m-instruct",
    embeddingKey: "text-embedding-all-minilm-l6-v2",
    predictConfig: { temperature: 0, maxTokens: 24 },
    // Long enough to be still generating when the cancel arrives after the first fragment.
    cancelPrompt: "Write a very long story about a dragon who learns to bake bread.",
    cancelConfig: { temperature: 0, maxTokens: 400 },
    requestedTokens: 400,
    cancelAfter: 1,
    // A real engine error: a prompt longer than any context SmolLM2 has (8192), refused
    // before evaluation under the stopAtLimit overflow policy.
    errorPrompt: "hello ".repeat(10_000),
    errorConfig: { contextOverflowPolicy: "stopAtLimit" },
    structuredPrompt: "Invent a person.",
    structuredConfig: { temperature: 0, maxTokens: 60 },
    // A required tool call (a grammar makes SmolLM2 produce one that fits a tool's schema),
    // then, with tools withheld on the last round, an answer.
    actPrompt: "What is 2 plus 3? Use a tool.",
    actConfig: { temperature: 0, maxTokens: 64, toolChoice: { type: "generic", mode: "required" } },
  },
};

// The openai engine in front of llama-cpp-python's server on the same models (its context is
// 2048, so the error prompt is refused upstream).
ENGINES.openai = { ...ENGINES.llama };

// The sentences of the embed scenario: `related` means nearly what `anchor` means, `unrelated`
// does not (py_official_scenarios.py embeds the same three).
const EMBED_TEXTS = {
  anchor: "A cat sat on the mat.",
  related: "A kitten was sleeping on the rug.",
  unrelated: "Quarterly tax filings are due at the end of March.",
};

// Two documents on different topics for the retrieve scenario (tests/documents_kit.py has the
// same texts): the query is about bread, so a chunk of bread.txt must rank first.
const RETRIEVAL = {
  bread:
    "Baking bread at home\n\n" +
    "Mix flour, water, salt and yeast into a dough. Knead the dough for ten minutes until it " +
    "is smooth and elastic.\n" +
    "Let the dough rise in a warm kitchen for an hour, then shape the loaf.\n\n" +
    "Bake the loaf in a hot oven at 230 degrees for thirty minutes, until the crust is brown " +
    "and the bread sounds hollow.\n",
  planets:
    "Watching the planets\n\n" +
    "Jupiter and Saturn are the brightest planets in the night sky after Venus. A small " +
    "telescope shows the moons of Jupiter and the rings of Saturn.\n" +
    "Observe on a clear, dark night away from city lights, and let your eyes adapt to the " +
    "darkness for twenty minutes.\n\n" +
    "Mars looks red because of iron oxide dust on its surface; it is closest to Earth at " +
    "opposition, every twenty-six months.\n",
  query: "How long should the bread bake in the oven?",
};

function parseArgs(argv) {
  let engineName = "scripted";
  let repository = false;
  const rest = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--engine") {
      engineName = argv[++i];
    } else if (argv[i] === "--repository") {
      repository = true;
    } else {
      rest.push(argv[i]);
    }
  }
  return { engineName, repository, rest };
}

const { engineName, repository, rest: positional } = parseArgs(process.argv.slice(2));
const E = ENGINES[engineName];
const [baseUrl, apiToken] = positional;
if (!baseUrl || !E || positional.length > 2) {
  process.stderr.write(
    "usage: node ts_scenarios.mjs [--engine scripted|llama|openai] [--repository] " +
      "ws://HOST:PORT [API_TOKEN]\n",
  );
  process.exit(2);
}
const SCENARIO_TIMEOUT_MS = E.scenarioTimeoutMs;
const LLM_KEY = E.llmKey;
const EMBEDDING_KEY = E.embeddingKey;

// --- output and client logging ----------------------------------------------------------------

function emit(scenario, ok, detail) {
  process.stdout.write(JSON.stringify({ scenario, ok, detail }) + "\n");
}

const ANSI_ESCAPES = /\u001b\[[0-9;]*m/g;

function plain(value) {
  if (value instanceof Error) {
    return `${value.name}: ${value.message}`.replace(ANSI_ESCAPES, "");
  }
  if (typeof value === "string") {
    return value.replace(ANSI_ESCAPES, "");
  }
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

// Everything the official client logs, in order, as "level: text".
const clientLog = [];

function record(level, args) {
  const line = `${level}: ${args.map(plain).join(" ")}`;
  clientLog.push(line.slice(0, 2000));
  process.stderr.write(`[client ${line}]\n`);
}

const logger = {
  debug: () => {},
  info: (...args) => record("info", args),
  warn: (...args) => record("warn", args),
  error: (...args) => record("error", args),
};

function describeError(error) {
  if (error instanceof Error) {
    return {
      name: error.name,
      message: error.message.replace(ANSI_ESCAPES, "").slice(0, 4000),
    };
  }
  return { name: typeof error, message: plain(error) };
}

// --- scenario runner --------------------------------------------------------------------------

async function run(name, body) {
  const logStart = clientLog.length;
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`scenario timed out after ${SCENARIO_TIMEOUT_MS} ms`)),
      SCENARIO_TIMEOUT_MS,
    );
  });
  const started = Date.now();
  try {
    const work = body();
    // A timed-out scenario may still reject later; that must not crash the process.
    work.catch(() => {});
    const detail = await Promise.race([work, timeout]);
    emit(name, true, { ...detail, elapsedMs: Date.now() - started, clientLog: clientLog.slice(logStart) });
  } catch (error) {
    emit(name, false, {
      error: describeError(error),
      elapsedMs: Date.now() - started,
      clientLog: clientLog.slice(logStart),
    });
  } finally {
    clearTimeout(timer);
  }
}

// Resolves with the error the promise rejected with; rejects if it fulfilled.
async function expectRejection(promise) {
  try {
    await promise;
  } catch (error) {
    return describeError(error);
  }
  throw new Error("expected the call to fail, but it succeeded");
}

function modelSummary(model) {
  return { identifier: model.identifier, modelKey: model.modelKey, path: model.path };
}

function statsSummary(stats) {
  return {
    stopReason: stats.stopReason,
    predictedTokensCount: stats.predictedTokensCount,
    promptTokensCount: stats.promptTokensCount,
  };
}

// Streams a prediction, recording every fragment in arrival order.
async function collectPrediction(prediction, { cancelAfter } = {}) {
  const fragments = [];
  for await (const fragment of prediction) {
    fragments.push(fragment.content);
    if (cancelAfter !== undefined && fragments.length === cancelAfter) {
      await prediction.cancel();
    }
  }
  const result = await prediction.result();
  return { fragments, content: result.content, stats: statsSummary(result.stats) };
}

// --- feature scenarios ------------------------------------------------------------------------

async function featureScenarios(client) {
  const llm = () => client.llm.model(LLM_KEY);

  await run("lmstudio_version", async () => {
    const version = await client.system.getLMStudioVersion();
    return { version: version.version, build: version.build };
  });

  await run("list_downloaded", async () => {
    const models = await client.system.listDownloadedModels();
    return {
      models: models.map((m) => ({ type: m.type, modelKey: m.modelKey, path: m.path })),
    };
  });

  await run("get_or_load", async () => {
    const model = await llm();
    const info = await model.getModelInfo();
    return { ...modelSummary(model), infoModelKey: info.modelKey };
  });

  await run("list_loaded", async () => {
    await llm();
    const models = await client.llm.listLoaded();
    return { models: models.map(modelSummary) };
  });

  await run("load", async () => {
    const progress = [];
    const model = await client.llm.load(LLM_KEY, {
      identifier: LOAD_IDENTIFIER,
      ttl: 300,
      onProgress: (value) => progress.push(value),
    });
    const info = await model.getModelInfo();
    return {
      ...modelSummary(model),
      requestedIdentifier: LOAD_IDENTIFIER,
      progress,
      ttlMs: info.ttlMs,
    };
  });

  await run("unload", async () => {
    const before = (await client.llm.listLoaded()).map((m) => m.identifier);
    await client.llm.unload(LOAD_IDENTIFIER);
    const after = (await client.llm.listLoaded()).map((m) => m.identifier);
    return { unloaded: LOAD_IDENTIFIER, before, after };
  });

  await run("respond", async () => {
    const model = await llm();
    const userText = "hello conformance world";
    const prediction = model.respond([{ role: "user", content: userText }], E.predictConfig);
    return { userText, ...(await collectPrediction(prediction)) };
  });

  await run("structured", async () => {
    // A zod schema: the client sends its JSON schema and parses the reply with it.
    const model = await llm();
    const person = z.object({ name: z.string(), age: z.number().int() });
    const result = await model.respond([{ role: "user", content: E.structuredPrompt }], {
      ...E.structuredConfig,
      structured: person,
    });
    const sent = result.predictionConfig.fields.find(
      (f) => f.key === "llm.prediction.structured",
    );
    return {
      content: result.content,
      parsed: result.parsed,
      stopReason: result.stats.stopReason,
      sentStructured: sent ? sent.value : null,
    };
  });

  await run("complete", async () => {
    // 2.0.0 sends this as a `completeRawText` channel.
    const model = await llm();
    const prompt = "complete this raw prompt";
    return { prompt, ...(await collectPrediction(model.complete(prompt, E.predictConfig))) };
  });

  await run("cancel", async () => {
    const model = await llm();
    const prediction = model.respond([{ role: "user", content: E.cancelPrompt }], E.cancelConfig);
    const { requestedTokens, cancelAfter } = E;
    return {
      requestedTokens,
      cancelAfter,
      ...(await collectPrediction(prediction, { cancelAfter })),
    };
  });

  await run("prediction_error", async () => {
    const model = await llm();
    const prediction = model.respond([{ role: "user", content: E.errorPrompt }], E.errorConfig);
    return { error: await expectRejection(prediction) };
  });

  await run("tokenize", async () => {
    const model = await llm();
    const text = "hello conformance world";
    return { text, tokens: await model.tokenize(text) };
  });

  await run("count_tokens", async () => {
    const model = await llm();
    const text = "hello conformance world";
    const count = await model.countTokens(text);
    const tokens = await model.tokenize(text);
    return { text, count, tokenizeLength: tokens.length };
  });

  await run("context_length", async () => {
    // 2.0.0 reads this from getLoadConfig (`llm.load.contextLength`).
    const model = await llm();
    const contextLength = await model.getContextLength();
    const info = await model.getModelInfo();
    return { contextLength, infoContextLength: info.contextLength };
  });

  await run("apply_prompt_template", async () => {
    const model = await llm();
    const userText = "template this message";
    const formatted = await model.applyPromptTemplate([{ role: "user", content: userText }]);
    return { userText, formatted };
  });

  await run("embed", async () => {
    const model = await client.embedding.model(EMBEDDING_KEY);
    const [anchor, related, unrelated] = await model.embed([
      EMBED_TEXTS.anchor,
      EMBED_TEXTS.related,
      EMBED_TEXTS.unrelated,
    ]);
    return {
      ...modelSummary(model),
      texts: EMBED_TEXTS,
      embedding: anchor.embedding,
      related: related.embedding,
      unrelated: unrelated.embedding,
    };
  });

  await run("stream_logs", async () => {
    // Logs stream while predictions run; the subscription races the first prediction (another
    // socket), so predict until the log has shown one of ours.
    const model = await llm();
    const events = [];
    let sawOutput;
    const outputSeen = new Promise((resolve) => (sawOutput = resolve));
    const stop = client.diagnostics.unstable_streamLogs((event) => {
      events.push(event);
      if (event.data.type === "llm.prediction.output" && event.data.modelIdentifier === model.identifier) {
        sawOutput();
      }
    });
    const replies = [];
    for (let round = 0; round < 20; round++) {
      const result = await model.respond([{ role: "user", content: `log round ${round}` }], E.predictConfig);
      replies.push(result.content);
      const seen = await Promise.race([
        outputSeen.then(() => true),
        new Promise((resolve) => setTimeout(() => resolve(false), 500)),
      ]);
      if (seen) break;
    }
    stop();
    const ours = events.filter((e) => e.data.modelIdentifier === model.identifier);
    return {
      identifier: model.identifier,
      replies,
      kinds: events.map((e) => e.data.type),
      outputs: ours.filter((e) => e.data.type === "llm.prediction.output").map((e) => e.data.output),
      inputs: ours.filter((e) => e.data.type === "llm.prediction.input").map((e) => e.data.input),
      timestamps: events.map((e) => e.timestamp),
    };
  });

  await run("unknown_model", async () => {
    return { model: UNKNOWN_MODEL, error: await expectRejection(client.llm.model(UNKNOWN_MODEL)) };
  });

  await run("act_two_tools", async () => {
    const model = await llm();
    const calls = [];
    const integers = {
      type: "object",
      properties: { a: { type: "integer" }, b: { type: "integer" } },
      required: ["a", "b"],
    };
    const tools = [
      rawFunctionTool({
        name: "add",
        description: "Add two integers.",
        parametersJsonSchema: integers,
        implementation: ({ a, b }) => {
          calls.push({ name: "add", arguments: { a, b } });
          return a + b;
        },
      }),
      rawFunctionTool({
        name: "multiply",
        description: "Multiply two integers.",
        parametersJsonSchema: integers,
        implementation: ({ a, b }) => {
          calls.push({ name: "multiply", arguments: { a, b } });
          return a * b;
        },
      }),
    ];
    const messages = [];
    const requested = [];
    const result = await model.act(E.actPrompt, tools, {
      ...E.actConfig,
      maxPredictionRounds: 2,
      onMessage: (message) =>
        messages.push({
          role: message.getRole(),
          text: message.getText(),
          toolCallRequests: message.getToolCallRequests().map((r) => r.name),
          toolCallResults: message.getToolCallResults().map((r) => r.content),
        }),
      onToolCallRequestEnd: (_round, _callId, info) =>
        requested.push({ name: info.toolCallRequest.name, id: info.toolCallRequest.id ?? null }),
    });
    return { rounds: result.rounds, calls, requested, messages };
  });

  await run("retrieve", async () => {
    // Upload two documents, retrieve from both with a loaded embedding model, then parse one.
    const embedding = await client.embedding.model(EMBEDDING_KEY);
    const upload = (name, text) =>
      client.files.prepareFileBase64(name, Buffer.from(text).toString("base64"));
    const bread = await upload("bread.txt", RETRIEVAL.bread);
    const planets = await upload("planets.md", RETRIEVAL.planets);
    const events = [];
    const result = await client.files.retrieve(RETRIEVAL.query, [bread, planets], {
      embeddingModel: embedding,
      limit: 3,
      chunkingMethod: { type: "recursive-v1", chunkSize: 24, chunkOverlap: 4 },
      onFileProcessList: (files) => events.push(["list", ...files.map((f) => f.name)]),
      onFileProcessingStepEnd: (file, step) => events.push(["stepEnd", file.name, step]),
      onSearchingEnd: () => events.push(["searched"]),
    });
    const parsed = await client.files.parseDocument(bread);
    const library = await client.files.getDocumentParsingLibrary(bread);
    return {
      texts: RETRIEVAL,
      entries: result.entries.map((e) => ({
        content: e.content,
        score: e.score,
        source: e.source.name,
      })),
      events,
      parsed: { content: parsed.content, parser: parsed.parser },
      library,
      path: await bread.getFilePath(),
    };
  });

  await run("image", async () => {
    const file = await client.files.prepareImageBase64("conformance.png", IMAGE_PNG_BASE64);
    const model = await client.llm.model(E.visionKey);
    const userText = "Describe this image.";
    // The same chat without the image, one token: its prompt must be shorter.
    const textOnly = await model.respond([{ role: "user", content: userText }], {
      ...E.predictConfig,
      maxTokens: 1,
    });
    const prediction = model.respond(
      [{ role: "user", content: userText, images: [file] }],
      E.predictConfig,
    );
    return {
      userText,
      modelKey: model.modelKey,
      file: { type: file.type, name: file.name, sizeBytes: file.sizeBytes },
      textOnlyPromptTokens: textOnly.stats.promptTokensCount,
      ...(await collectPrediction(prediction)),
    };
  });
}

// --- auth scenarios (server enforces apiToken) ------------------------------------------------

async function withClient(opts, body) {
  const client = new LMStudioClient({ baseUrl, logger, ...opts });
  try {
    return await body(client);
  } finally {
    await client[Symbol.asyncDispose]().catch(() => {});
  }
}

async function authScenarios() {
  await run("auth_wrong_token", () =>
    withClient({ apiToken: WRONG_TOKEN }, async (client) => ({
      error: await expectRejection(client.llm.listLoaded()),
    })),
  );

  await run("auth_no_token", () =>
    withClient({}, async (client) => ({
      error: await expectRejection(client.llm.listLoaded()),
    })),
  );

  await run("auth_right_token", () =>
    withClient({ apiToken }, async (client) => {
      // Two namespaces: each socket authenticates on its own.
      const loaded = await client.llm.listLoaded();
      const downloaded = await client.system.listDownloadedModels();
      return {
        loadedCount: loaded.length,
        downloadedKeys: downloaded.map((m) => m.modelKey),
      };
    }),
  );
}

// --- repository scenarios (server started with --catalog) --------------------------------------

async function optionOf(client, term, fileName) {
  const [entry] = await client.repository.searchModels({ searchTerm: term });
  const options = await entry.getDownloadOptions();
  return options.find((o) => o.name === fileName);
}

async function repositoryScenarios(client) {
  // @lmstudio/sdk 2.0's download() chains `promise.finally(...)` and leaves that derived promise
  // unhandled, so every rejected download (here: the aborted one) is also an unhandled
  // rejection, which would end Node. Record it instead (the scenario sees the rejection itself).
  process.on("unhandledRejection", (reason) => record("unhandledRejection", [reason]));
  await run("repository_search", async () => {
    const results = await client.repository.searchModels({ searchTerm: "tiny" });
    const limited = await client.repository.searchModels({ limit: 2 });
    return {
      results: results.map((r) => ({
        name: r.name,
        exact: r.isExactMatch(),
        staffPick: r.isStaffPick(),
      })),
      limitedCount: limited.length,
    };
  });

  await run("repository_download", async () => {
    const [entry] = await client.repository.searchModels({ searchTerm: "tiny chat" });
    const options = await entry.getDownloadOptions();
    const option = options.find((o) => o.isRecommended());
    const updates = [];
    let finalizing = 0;
    const modelKey = await option.download({
      onProgress: (update) => updates.push(update),
      onStartFinalizing: () => finalizing++,
    });
    const downloaded = await client.system.listDownloadedModels();
    return {
      options: options.map((o) => ({
        name: o.name,
        quantization: o.quantization,
        sizeBytes: o.sizeBytes,
        fitEstimation: o.fitEstimation,
        compatibilityType: o.compatibilityType,
        indexedModelIdentifier: o.indexedModelIdentifier,
        recommended: o.isRecommended(),
      })),
      modelKey,
      updates,
      finalizing,
      downloadedKeys: downloaded.map((m) => m.modelKey),
    };
  });

  await run("repository_download_cancel", async () => {
    const option = await optionOf(client, "big llama", "Big-Llama-Q4_0.gguf");
    const controller = new AbortController();
    const updates = [];
    const error = await expectRejection(
      option.download({
        signal: controller.signal,
        onProgress: (update) => {
          updates.push(update);
          if (update.downloadedBytes >= update.totalBytes / 2) controller.abort();
        },
      }),
    );
    return { error, lastUpdate: updates[updates.length - 1] };
  });

  await run("repository_lm_link_status", async () => {
    return { status: await client.repository.lmLink.status() };
  });
}

// --- main -------------------------------------------------------------------------------------

async function main() {
  if (apiToken) {
    await authScenarios();
  } else {
    const client = new LMStudioClient({ baseUrl, logger });
    try {
      await (repository ? repositoryScenarios(client) : featureScenarios(client));
    } finally {
      await Promise.race([
        client[Symbol.asyncDispose]().catch(() => {}),
        new Promise((resolve) => setTimeout(resolve, 2000)),
      ]);
    }
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`fatal: ${plain(error)}\n`);
    process.exit(1);
  },
);
