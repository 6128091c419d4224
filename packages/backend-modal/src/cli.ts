/**
 * `dreamcore-modal`: what an operator runs against Modal, with the same configuration as the server (the
 * environment, and a `.env` in the current folder if there is one).
 *
 *   dreamcore-modal deploy [--skills-dir DIR] [--restart-sandboxes]
 *   dreamcore-modal migrate-v1 <volume>... | --all
 *
 * Exit code 0 done, 1 failed (the message says what to fix), 2 usage.
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { isBackendError } from '@dreamcore/runtime-core';
import { deployModal } from './deploy.js';
import { migrateV1Volumes } from './migrate-v1.js';

export const USAGE = `usage: dreamcore-modal deploy [--skills-dir DIR] [--restart-sandboxes]
       dreamcore-modal migrate-v1 <volume>... | --all

deploy       builds and publishes the sandbox images, fills the skills volume from the skills folder
             (DREAMCORE_SKILLS_DIR, default: the skills runtime-core ships), and checks the Modal tokens and MODAL_KEY_PROXY_URL from inside a sandbox.
             Idempotent: a second run changes nothing. --restart-sandboxes ends running user sandboxes so they
             start again on the new image.
migrate-v1   moves v1 volumes (given by name, or --all of this deployment's) to v2, keeping each old one as
             <name>.v1. Stop the server first.

Configuration comes from the environment (and ./.env): MODAL_TOKEN_ID, MODAL_TOKEN_SECRET, MODAL_SERVER_URL,
MODAL_ENVIRONMENT, MODAL_APP_NAME, MODAL_KEY_PROXY_URL, MODAL_KEY_PROXY_PORT, ... (see .env.example).
`;

export async function main(argv: string[], out: { log(line: string): void; error(line: string): void } = console): Promise<number> {
  if (existsSync('.env')) process.loadEnvFile('.env');
  const [command, ...rest] = argv;
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      options: { 'skills-dir': { type: 'string' }, 'restart-sandboxes': { type: 'boolean' }, all: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (error) {
    out.error(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help || command === undefined || command === 'help' || command === '--help') {
    out.log(USAGE);
    return command === undefined ? 2 : 0;
  }
  try {
    if (command === 'deploy') {
      if (positionals.length > 0) throw usage('deploy takes no arguments');
      await deployModal({
        skillsDir: values['skills-dir'],
        restartSandboxes: values['restart-sandboxes'],
        log: () => undefined,
        onStep: (line) => out.log(line),
      });
      return 0;
    }
    if (command === 'migrate-v1') {
      if (values.all === positionals.length > 0) throw usage('give volume names, or --all');
      const report = await migrateV1Volumes({ volumes: values.all ? 'all' : positionals, log: () => undefined, onStep: (line) => out.log(line) });
      out.log(`migrate-v1: ${report.migrated.length} moved to v2, ${report.skipped.length} skipped`);
      return 0;
    }
    throw usage(`unknown command ${command}`);
  } catch (error) {
    if (error instanceof UsageError) {
      out.error(`${error.message}\n\n${USAGE}`);
      return 2;
    }
    out.error(`dreamcore-modal ${command}: ${isBackendError(error) ? `${error.code}: ${error.message}` : ((error as Error)?.stack ?? String(error))}`);
    return 1;
  }
}

class UsageError extends Error {}
const usage = (message: string) => new UsageError(message);
