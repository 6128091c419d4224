import { describe, expect, it } from 'vitest';
import { parityDifferences, type ConformanceCase } from './parity-reporter.js';

const pass = (fullName: string): ConformanceCase => ({ fullName, state: 'passed' });
const skip = (fullName: string): ConformanceCase => ({ fullName, state: 'skipped' });

describe('the parity rule', () => {
  it('holds when both lanes pass the same names, whatever the order and the other suites', () => {
    expect(
      parityDifferences([
        pass('conformance: local > files > a'),
        pass('conformance: modal > files > a'),
        pass('conformance: local > git > b > nested'),
        pass('conformance: modal > git > b > nested'),
        skip('conformance: local > git > declared unsupported: calls fail with UNSUPPORTED'),
        skip('conformance: modal > git > declared unsupported: calls fail with UNSUPPORTED'),
        pass('conformance: memory > files > only here'),
        pass('server contract > something else'),
      ]),
    ).toEqual([]);
  });

  it('names a case that passes on one lane only: skipped or failed on the other', () => {
    expect(
      parityDifferences([
        pass('conformance: local > files > a'),
        skip('conformance: modal > files > a'),
        { fullName: 'conformance: local > files > b', state: 'failed' },
        pass('conformance: modal > files > b'),
      ]),
    ).toEqual(['passes on local only: files > a', 'passes on modal only: files > b']);
  });

  it('compares only the blocks both lanes ran (one file of a split suite)', () => {
    expect(parityDifferences([pass('conformance: local > files > a'), pass('conformance: local > git > b'), pass('conformance: modal > git > b')])).toEqual([]);
    expect(parityDifferences([pass('conformance: local > git > b'), pass('conformance: modal > git > c')])).toEqual([
      'passes on local only: git > b',
      'passes on modal only: git > c',
    ]);
  });
});
