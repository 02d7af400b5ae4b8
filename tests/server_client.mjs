// server_client.mjs - the official `openai` npm package against apr-server (run by
// tests/test_server.c when node and the package are present).
// Usage: NODE_PATH=tests/tmp/node/node_modules node tests/server_client.mjs http://127.0.0.1:PORT/v1
import { createRequire } from "node:module";
const require = createRequire(import.meta.url);
const OpenAI = require("openai").default ?? require("openai");

const baseURL = process.argv[2];
const client = new OpenAI({ baseURL, apiKey: "unused", maxRetries: 0, timeout: 20000 });
const fail = (msg) => { console.error("FAIL: " + msg); process.exit(1); };

const models = await client.models.list();
if (!models.data || models.data.length !== 1 || !models.data[0].id) fail("models.list");

const messages = [{ role: "user", content: "Tell me a story" }];
const r = await client.chat.completions.create({ model: models.data[0].id, messages, max_tokens: 16, temperature: 0 });
const text = r.choices[0].message.content;
if (typeof text !== "string" || r.choices[0].message.role !== "assistant") fail("chat message");
if (!["stop", "length"].includes(r.choices[0].finish_reason)) fail("finish_reason");
if (r.usage.total_tokens !== r.usage.prompt_tokens + r.usage.completion_tokens) fail("usage");

const stream = await client.chat.completions.create({
  model: models.data[0].id, messages, max_tokens: 16, temperature: 0, stream: true,
  stream_options: { include_usage: true },
});
let streamed = "", finish = null, usage = null;
for await (const chunk of stream) {
  if (chunk.usage) usage = chunk.usage;
  for (const c of chunk.choices) {
    if (c.delta?.content) streamed += c.delta.content;
    if (c.finish_reason) finish = c.finish_reason;
  }
}
if (streamed !== text) fail(`stream text differs: ${JSON.stringify(streamed)} vs ${JSON.stringify(text)}`);
if (!finish) fail("no finish_reason in the stream");
if (!usage || usage.completion_tokens !== r.usage.completion_tokens) fail("stream usage");

const c = await client.completions.create({ model: "m", prompt: "Once upon a time", max_tokens: 8, temperature: 0 });
if (typeof c.choices[0].text !== "string") fail("completion");
const cs = await client.completions.create({ model: "m", prompt: "Once upon a time", max_tokens: 8, temperature: 0, stream: true });
let ctext = "";
for await (const chunk of cs) ctext += chunk.choices[0]?.text ?? "";
if (ctext !== c.choices[0].text) fail("completion stream text differs");

try {
  await client.chat.completions.create({ model: "m", messages: "bad" });
  fail("a bad request succeeded");
} catch (e) {
  if (e.status !== 400) fail("bad request status " + e.status);
}
console.log("ok: chat, chat stream, completion, completion stream, error");
