/**
 * `npm start`: starts the server with the environment (and a `.env` file in the checkout, if present), and shuts
 * it down cleanly on SIGINT/SIGTERM. The process-level error boundary is installed here (process-guard.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from './config.js';
import { startServer } from './main.js';
import { installProcessGuards } from './process-guard.js';

function loadDotEnv(): void {
  const file = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../.env');
  if (!existsSync(file)) return;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /^\s*([A-Z0-9_]+)\s*=\s*(.*)\s*$/.exec(line);
    if (match && process.env[match[1]!] === undefined) process.env[match[1]!] = match[2]!.replace(/^["']|["']$/g, '');
  }
}

export async function run(): Promise<void> {
  loadDotEnv();
  try {
    const server = await startServer();
    console.log(`\n  DreamCore is running: http://localhost:${server.port}${server.ctx.config.demoMode ? '  (demo mode)' : ''}\n`);
    const stop = async (code = 0) => {
      // A shutdown that hangs must not keep a broken process alive.
      setTimeout(() => process.exit(code), 15_000).unref();
      await server.close().catch((error: unknown) => server.ctx.log.error({ err: error }, 'shutdown failed'));
      process.exit(code);
    };
    installProcessGuards({ log: server.ctx.log, metrics: server.ctx.metrics, onBroken: () => void stop(1) });
    process.once('SIGINT', () => void stop());
    process.once('SIGTERM', () => void stop());
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(2);
    }
    throw error;
  }
}

await run();
