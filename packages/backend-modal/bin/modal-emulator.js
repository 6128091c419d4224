#!/usr/bin/env node
// Starts the local Modal emulator and prints its URL (the value for MODAL_SERVER_URL) on the first line of stdout.
//
//   node packages/backend-modal/bin/modal-emulator.js --port 0 [--state-dir DIR] [--rpc-delay-ms N] [--bind /opt]
//
// Point the real SDK at it with MODAL_SERVER_URL=<url> MODAL_TOKEN_ID=<any> MODAL_TOKEN_SECRET=<any>.
// Runs until SIGINT/SIGTERM, then terminates every sandbox.
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'state-dir': { type: 'string' },
    'rpc-delay-ms': { type: 'string' },
    bind: { type: 'string', multiple: true },
    help: { type: 'boolean', short: 'h' },
  },
});

if (values.help) {
  process.stdout.write(
    'usage: modal-emulator [--port N] [--state-dir DIR] [--rpc-delay-ms N] [--bind HOST_PATH]...\n' +
      '  --port          TCP port on 127.0.0.1 (0 = any free port; default 0)\n' +
      '  --state-dir     keep volumes here (default: a temporary directory removed on exit)\n' +
      '  --rpc-delay-ms  fixed delay per RPC (default: $MODAL_EMULATOR_RPC_DELAY_MS or 0)\n' +
      '  --bind          extra host path to mount read-only into every sandbox (repeatable)\n',
  );
  process.exit(0);
}

const emulatorModule = await loadEmulator();
const emulator = await emulatorModule.startModalEmulator({
  port: toNumber(values.port, '--port'),
  stateDir: values['state-dir'],
  rpcDelayMs: values['rpc-delay-ms'] === undefined ? undefined : toNumber(values['rpc-delay-ms'], '--rpc-delay-ms'),
  extraReadOnlyBinds: values.bind,
  onError: (error, method) => console.error(`[modal-emulator] ${method}:`, error),
});

process.stdout.write(`${emulator.url}\n`);
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

/** The built package (dist/) when present; in a source checkout, the TypeScript sources through tsx. */
async function loadEmulator() {
  try {
    return await import('../dist/emulator/index.js');
  } catch (error) {
    if (error?.code !== 'ERR_MODULE_NOT_FOUND') throw error;
  }
  const { register } = await import('tsx/esm/api');
  register();
  return import('../src/emulator/index.ts');
}

function toNumber(raw, flag) {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    console.error(`${flag} must be a non-negative integer, got "${raw}"`);
    process.exit(2);
  }
  return value;
}
