#!/usr/bin/env node
// Starts the local Modal emulator and prints its URL (the value for MODAL_SERVER_URL) on the first line of stdout.
//
//   node packages/backend-modal/bin/modal-emulator.js --port 0 [--state-dir DIR] [--rpc-delay-ms N] [--bind /opt]
//
// Point the real SDK at it with MODAL_SERVER_URL=<url> MODAL_TOKEN_ID=<any> MODAL_TOKEN_SECRET=<any>.
// Runs until SIGINT/SIGTERM, then terminates every sandbox.
//
//   node packages/backend-modal/bin/modal-emulator.js setup [--check]
//
// provisions (as root, idempotently) or checks the sandbox network: the emulator's internet address on this machine's
// lo. It runs before `npm install` in CI, so it loads nothing but Node itself.
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { loadBuiltOrSource } from './load-source.js';

/** The emulator's internet address; the same as INTERNET_ADDRESS in src/emulator/network.ts (a test checks). */
const INTERNET_ADDRESS = '198.18.0.1';

if (process.argv[2] === 'setup') {
  process.exit(setupNetwork(process.argv.includes('--check')));
}

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'state-dir': { type: 'string' },
    'rpc-delay-ms': { type: 'string' },
    bind: { type: 'string', multiple: true },
    publish: { type: 'string', multiple: true },
    'cold-start-ms': { type: 'string' },
    'exec-ms': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});

if (values.help) {
  process.stdout.write(
    'usage: modal-emulator [--port N] [--state-dir DIR] [--rpc-delay-ms N] [--bind HOST_PATH]...\n' +
      '  --port          TCP port on 127.0.0.1 (0 = any free port; default 0)\n' +
      '  --state-dir     keep volumes here (default: a temporary directory removed on exit)\n' +
      '  --rpc-delay-ms  fixed delay per RPC (default: $MODAL_EMULATOR_RPC_DELAY_MS or 0)\n' +
      '  --bind          extra host path to mount read-only into every sandbox (repeatable)\n' +
      "  --cold-start-ms N|modal  time from a sandbox's creation to its first exec (modal: 1.7–2.7 s, published figures)\n" +
      '  --exec-ms N     added to every exec start (a process started under gVisor)\n' +
      '  --publish PORT  make 127.0.0.1:PORT reachable from sandboxes at http://198.18.0.1:PORT (repeatable),\n' +
      "                  as an ingress would in production (e.g. the server's key proxy: MODAL_KEY_PROXY_PORT)\n" +
      'modal-emulator setup [--check]: provision (as root) or check the sandbox network, once per boot\n',
  );
  process.exit(0);
}

const emulatorModule = await loadBuiltOrSource('dist/emulator/index.js', 'src/emulator/index.ts');
const emulator = await emulatorModule.startModalEmulator({
  port: toNumber(values.port, '--port'),
  stateDir: values['state-dir'],
  rpcDelayMs: values['rpc-delay-ms'] === undefined ? undefined : toNumber(values['rpc-delay-ms'], '--rpc-delay-ms'),
  extraReadOnlyBinds: values.bind,
  coldStartMs:
    values['cold-start-ms'] === undefined ? undefined : values['cold-start-ms'] === 'modal' ? 'modal' : toNumber(values['cold-start-ms'], '--cold-start-ms'),
  execMs: values['exec-ms'] === undefined ? undefined : toNumber(values['exec-ms'], '--exec-ms'),
  onError: (error, method) => console.error(`[modal-emulator] ${method}:`, error),
});

process.stdout.write(`${emulator.url}\n`);
for (const port of values.publish ?? []) {
  const published = await emulator.publish(toNumber(port, '--publish'), { publicPort: toNumber(port, '--publish') });
  console.error(`[modal-emulator] published 127.0.0.1:${port} to sandboxes at ${published.url}`);
}
const env = emulator.clientEnv();
console.error(
  `[modal-emulator] serving modal SDK ${emulator.sdkVersion} protocol; state in ${emulator.stateDir}\n` +
    `[modal-emulator] export MODAL_SERVER_URL=${env.MODAL_SERVER_URL} MODAL_TOKEN_ID=${env.MODAL_TOKEN_ID} ` +
    `MODAL_TOKEN_SECRET=${env.MODAL_TOKEN_SECRET}`,
);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (stopping) process.exit(1);
    stopping = true;
    emulator.close().then(
      () => process.exit(0),
      (error) => {
        console.error('[modal-emulator] close failed:', error);
        process.exit(1);
      },
    );
  });
}

function setupNetwork(checkOnly) {
  const onLo = () => {
    try {
      return execFileSync('ip', ['-o', '-4', 'addr', 'show', 'dev', 'lo'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).includes(
        ` ${INTERNET_ADDRESS}/32 `,
      );
    } catch {
      return false;
    }
  };
  if (onLo()) {
    console.log(`modal-emulator setup: sandbox network ready (${INTERNET_ADDRESS} on lo)`);
    return 0;
  }
  if (checkOnly) {
    console.error(`modal-emulator setup: ${INTERNET_ADDRESS} is not on lo; run \`npm run setup\` as root`);
    return 1;
  }
  try {
    execFileSync('ip', ['addr', 'add', `${INTERNET_ADDRESS}/32`, 'dev', 'lo'], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    console.error(
      `modal-emulator setup: could not add ${INTERNET_ADDRESS} to lo (needs root and iproute2): ${error.stderr?.toString().trim() || error.message}`,
    );
    return 1;
  }
  console.log(`modal-emulator setup: added ${INTERNET_ADDRESS}/32 to lo (the emulator's internet address; again after a reboot)`);
  return 0;
}

function toNumber(raw, flag) {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    console.error(`${flag} must be a non-negative integer, got "${raw}"`);
    process.exit(2);
  }
  return value;
}
