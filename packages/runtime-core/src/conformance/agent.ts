import { describe, expect } from 'vitest';
import { expectCode, newProject, type ConformanceOptions, useBackend } from './context.js';
import type { AgentEvent } from '../events.js';

export function agentCases(options: ConformanceOptions): void {
  describe('runClaude', () => {
    const s = useBackend(options);
    const b = () => s.backend();

    s.testUnsupported('runClaude', async () => {
      const run = b().runClaude({ scope: newProject(), prompt: 'make a game' });
      const events: AgentEvent[] = [];
      for await (const event of run) events.push(event);
      expect(events.map((e) => e.type)).toEqual(['error']);
      expect(events[0]).toMatchObject({ seq: 1, error: { code: 'UNSUPPORTED' } });
      await expectCode(run.result, 'UNSUPPORTED');
    });
  });
}
