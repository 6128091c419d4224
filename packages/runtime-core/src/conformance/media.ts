import { describe } from 'vitest';
import { expectCode, newProject, type ConformanceOptions, useBackend } from './context.js';

export function videoCases(options: ConformanceOptions): void {
  describe('renderVideo', () => {
    const s = useBackend(options);
    s.testUnsupported('renderVideo', async () => {
      await expectCode(s.backend().renderVideo({ scope: newProject() }), 'UNSUPPORTED');
    });
  });
}
