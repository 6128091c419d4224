import { randomUUID } from 'node:crypto';
import { describe } from 'vitest';
import { expectCode, newProject, type ConformanceOptions, useBackend } from './context.js';

export function imageCases(options: ConformanceOptions): void {
  describe('generateImage', () => {
    const s = useBackend(options);
    s.testUnsupported('generateImage', async () => {
      await expectCode(s.backend().generateImage({ scope: { userId: randomUUID() }, prompt: 'a cat' }), 'UNSUPPORTED');
    });
  });
}

export function videoCases(options: ConformanceOptions): void {
  describe('renderVideo', () => {
    const s = useBackend(options);
    s.testUnsupported('renderVideo', async () => {
      await expectCode(s.backend().renderVideo({ scope: newProject() }), 'UNSUPPORTED');
    });
  });
}
