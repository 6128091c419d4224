#!/usr/bin/env node
// dreamcore-modal: deploy to Modal (images, skills, checks) and move v1 volumes to v2. `--help` for usage;
// src/cli.ts documents it.
const { main } = await loadCli();
process.exitCode = await main(process.argv.slice(2));

/** The built package (dist/) when present; in a source checkout, the sources through tsx (run with `node --conditions=source`). */
async function loadCli() {
  try {
    return await import('../dist/cli.js');
  } catch (error) {
    if (error?.code !== 'ERR_MODULE_NOT_FOUND') throw error;
  }
  const { register } = await import('tsx/esm/api');
  register();
  return import('../src/cli.ts');
}
