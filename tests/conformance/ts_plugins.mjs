// The official TypeScript client, @lmstudio/sdk 2.0.0, consuming plugins hosted by our server.
//
// Usage: node ts_plugins.mjs ws://127.0.0.1:PORT GENERATOR_ID [TOOLS_ID]  (GENERATOR_ID "-": none)
// Prints one JSON line per scenario: {"scenario": "...", "ok": true|false, "detail": {...}}.

import { LMStudioClient } from "@lmstudio/sdk";

const [baseUrl, generatorId, toolsId] = process.argv.slice(2);
const client = new LMStudioClient({ baseUrl, logger: { info() {}, warn() {}, error() {}, debug() {} } });

async function scenario(name, body) {
  try {
    const detail = await body();
    console.log(JSON.stringify({ scenario: name, ok: true, detail }));
  } catch (error) {
    console.log(JSON.stringify({ scenario: name, ok: false, detail: { error: String(error?.message ?? error) } }));
  }
}

if (generatorId !== "-") {
  await scenario("generatorRespond", async () => {
    const generator = client.plugins.createGeneratorHandle(generatorId);
    const fragments = [];
    const result = await generator.respond("make it loud", {
      onPredictionFragment: fragment => fragments.push(fragment.content),
    });
    return { content: result.content, fragments };
  });

  await scenario("generatorError", async () => {
    const generator = client.plugins.createGeneratorHandle(generatorId);
    await generator.respond("raise");
    return { unexpected: "no error" };
  });
}

if (toolsId) {
  await scenario("pluginToolsAct", async () => {
    const session = await client.plugins.pluginTools(toolsId);
    try {
      const names = session.tools.map(tool => tool.name);
      const results = [];
      const statuses = [];
      const context = {
        status: text => statuses.push(text),
        warn() {},
        signal: new AbortController().signal,
        callId: 1,
      };
      for (const tool of session.tools) {
        if (tool.name === "add") {
          results.push(await tool.implementation({ a: 2, b: 3 }, context));
        }
      }
      // act() of the official client with the plugin's tools (the scripted model calls "add").
      const model = await client.llm.model("scripted-echo-1b");
      const rounds = [];
      await model.act('!tool add {"a": 2, "b": 3}', session.tools, {
        onMessage: message => rounds.push(message.getText()),
      });
      return { names, results, statuses, rounds };
    } finally {
      session[Symbol.dispose]();
    }
  });
}

process.exit(0);
