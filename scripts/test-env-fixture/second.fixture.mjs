import { beforeAll, expect, it } from 'vitest';

// Set in a hook, as the Modal test files set their emulator's client settings.
beforeAll(() => {
  process.env.DREAMCORE_FIXTURE_SECOND = 'set by the second file';
});

it('the second file sees nothing the first one set', () => {
  console.log(`ran in process ${process.pid}`);
  expect(process.env.DREAMCORE_FIXTURE_FIRST).toBeUndefined();
});
