/**
 * Test files share worker processes (vitest.config.ts: `isolate: false`), so what one file puts in `process.env` (the
 * Modal test files set their emulator's client settings) would otherwise be there for the next file in that process.
 * This runs before each file: it keeps the environment as it is before the file is imported and puts it back after
 * the file's last hook.
 */
import { afterAll } from 'vitest';

const before = { ...process.env };

afterAll(() => {
  for (const name of Object.keys(process.env)) if (!(name in before)) delete process.env[name];
  Object.assign(process.env, before);
});
