#!/usr/bin/node
// A stand-in for the Claude CLI in the server benchmark: prints stream-json like `claude -p … --output-format
// stream-json --include-partial-messages`, with one text delta every TOKEN_INTERVAL_MS whose text carries the
// wall-clock time it was written, so a WebSocket client can measure the server's token → client latency.
const tokens = Number(process.env.BENCH_TOKENS ?? 100);
const interval = Number(process.env.BENCH_TOKEN_INTERVAL_MS ?? 20);
// Streams start together after a delay, so 50 concurrent jobs measure streaming, not 50 process start-ups. Each at
// its own phase within the token interval, as independent model streams are: not 50 processes waking in lockstep.
const prompt = process.argv[process.argv.indexOf('-p') + 1] ?? '';
const startAt = Number(/start@(\d+)/.exec(prompt)?.[1] ?? 0) + Math.random() * interval;
const session = '00000000-0000-4000-8000-000000000001';
/** @param {Record<string, unknown>} obj one stream-json line */
const out = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);
const now = () => performance.timeOrigin + performance.now();
out({ type: 'system', subtype: 'init', session_id: session, model: 'bench' });
out({ type: 'stream_event', event: { type: 'message_start', message: { id: 'msg_bench' } } });
let text = '';
let i = 0;
await new Promise((resolve) => setTimeout(resolve, Math.max(0, startAt - Date.now())));
const timer = setInterval(() => {
  const delta = `⟨${i}@${now().toFixed(3)}⟩`;
  text += delta;
  out({ type: 'stream_event', event: { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: delta } } });
  if (++i >= tokens) {
    clearInterval(timer);
    out({ type: 'assistant', message: { id: 'msg_bench', content: [{ type: 'text', text }] } });
    out({
      type: 'result',
      subtype: 'success',
      is_error: false,
      result: text,
      session_id: session,
      total_cost_usd: 0,
      usage: { input_tokens: 1, output_tokens: tokens },
      duration_ms: tokens * interval,
      num_turns: 1,
    });
  }
}, interval);
