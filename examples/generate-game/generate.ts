/**
 * Generate a browser game from the command line with @dreamcore/backend-local.
 *
 *   npm run generate -w @dreamcore/examples -- "make a snake game" [--out ./my-game]
 *
 * With ANTHROPIC_API_KEY set it uses the real model; without it, the built-in scripted demo model (the agent is
 * still the real Claude Code CLI). The game is a git repository: run it again with another prompt to change it.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createLocalBackend } from '@dreamcore/backend-local';
import { createDemoScript } from '@dreamcore/runtime-core/demo';
import { startModelServer } from '@dreamcore/runtime-core/testkit';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { out: { type: 'string', default: './my-game' } } });
const prompt = positionals.join(' ').trim() || 'Make a simple space shooter game';
const out = path.resolve(values.out!);

// The game lives in a data directory laid out as DreamCore's; remember which project is this folder's.
const dataDir = path.join(out, '.dreamcore');
mkdirSync(dataDir, { recursive: true });
const idsFile = path.join(dataDir, 'ids.json');
const ids = existsSync(idsFile)
  ? (JSON.parse(readFileSync(idsFile, 'utf8')) as { userId: string; projectId: string; sessionId?: string })
  : { userId: randomUUID(), projectId: randomUUID() };

const demo = process.env.ANTHROPIC_API_KEY ? null : await startModelServer({ script: createDemoScript() });
if (demo) console.error('(demo mode: no ANTHROPIC_API_KEY, the agent talks to the built-in scripted model)');
const backend = createLocalBackend({
  dataDir,
  agent: { anthropicApiKey: process.env.ANTHROPIC_API_KEY, anthropicBaseUrl: demo?.url ?? process.env.ANTHROPIC_BASE_URL },
});
const scope = { userId: ids.userId, projectId: ids.projectId };

try {
  if (!(await backend.files.exists(scope, 'README.md'))) await backend.files.write(scope, 'README.md', `# ${prompt}\n`);
  const run = backend.runClaude({ scope, prompt, sessionId: ids.sessionId });
  for await (const event of run) {
    if (event.type === 'text') process.stdout.write(event.delta);
    else if (event.type === 'tool_use') process.stderr.write(`\n[${event.name}]\n`);
    else if (event.type === 'error') throw new Error(`${event.error.code}: ${event.error.message}`);
  }
  const result = await run.result;
  const { hash } = await backend.git.commit(scope, prompt.slice(0, 50));
  writeFileSync(idsFile, JSON.stringify({ ...ids, sessionId: result.sessionId ?? undefined }));
  const gameDir = path.join(dataDir, 'users', scope.userId, 'projects', scope.projectId);
  console.log(`\n\nChanged: ${result.filesChanged.join(', ') || '(nothing)'}  ·  version ${hash.slice(0, 7)}  ·  $${result.costUsd.toFixed(4)}`);
  console.log(`Open ${path.join(gameDir, 'index.html')} in a browser to play.`);
} finally {
  await backend.close();
  await demo?.close();
}
