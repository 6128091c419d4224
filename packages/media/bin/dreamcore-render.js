#!/usr/bin/env node
// dreamcore-render: renders the game in a folder to movie.mp4 + thumbnail.webp, progress as JSON lines on stdout.
//
//   dreamcore-render <folder> [--width N --height N --fps N --duration S --title TEXT --chromium PATH]
//
// `--help` lists the options; src/cli.ts documents the output lines and exit codes. SIGTERM/SIGINT cancel the render.
const { main } = await loadCli();
const controller = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => controller.abort());
process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, signal: controller.signal });

/**
 * The built package (dist/) when present; in a source checkout, or in a process started with the `source` export
 * condition (`node --conditions=source`: the workspace packages then resolve to TypeScript the built module cannot
 * import), the sources through tsx.
 */
async function loadCli() {
  const args = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  const source = args.some(
    (arg, i) => arg === '--conditions=source' || arg === '-C=source' || ((arg === '--conditions' || arg === '-C') && args[i + 1] === 'source'),
  );
  if (!source) {
    try {
      return await import('../dist/cli.js');
    } catch (error) {
      if (error?.code !== 'ERR_MODULE_NOT_FOUND') throw error;
    }
  }
  const { register } = await import('tsx/esm/api');
  register();
  return import('../src/cli.ts');
}
