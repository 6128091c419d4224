import { expect, it } from 'vitest';

// Set while the file is imported, as a test file's top-level code would.
process.env.DREAMCORE_FIXTURE_FIRST = 'set by the first file';

it('the first file sees nothing the second one set', () => {
  console.log(`ran in process ${process.pid}`);
  expect(process.env.DREAMCORE_FIXTURE_SECOND).toBeUndefined();
});
