// A render's end written to the database when it refuses for a moment (renders.ts): renders.test.ts runs the shared
// state on PostgreSQL 15 with two instances; this drives the writes' failures, which a live database cannot be made to
// give on cue.
import { describe, expect, it } from 'vitest';
import type { Coordination, RenderPatch } from '../src/db/repository.js';
import type { Logger } from '../src/logger.js';
import { sharedRenderStates } from '../src/renders.js';

/** A coordination whose render writes fail `failures` times, then succeed; it records every write. */
function flakyCoordination(failures: number) {
  const writes: { projectId: string; owner: string; patch: RenderPatch }[] = [];
  let left = failures;
  const coordination = {
    async updateRender(projectId: string, owner: string, patch: RenderPatch) {
      writes.push({ projectId, owner, patch });
      if (left-- > 0) throw new Error('connection terminated');
    },
  } as unknown as Coordination;
  return { coordination, writes };
}

function recordingLog() {
  const warnings: Record<string, unknown>[] = [];
  return { log: { warn: (fields: Record<string, unknown>) => warnings.push(fields) } as unknown as Logger, warnings };
}

describe('a render’s end when the database refuses it for a moment', () => {
  const end: RenderPatch = { status: 'done', percent: 100, stage: 'done', finishedAt: '2026-12-05T00:00:00.000Z' };

  it('is written again until it is taken, the same end each time, each failure logged', async () => {
    const { coordination, writes } = flakyCoordination(2);
    const { log, warnings } = recordingLog();
    const renders = sharedRenderStates(coordination, 'instance-a', log, { endRetriesMs: [1, 1, 1] });
    await renders.update('project-1', end);
    expect(writes).toHaveLength(3);
    for (const write of writes) expect(write).toEqual({ projectId: 'project-1', owner: 'instance-a', patch: end });
    expect(warnings.map((w) => w.attempt)).toEqual([1, 2]);
  });

  it('gives up after the last retry with the database’s error (the caller logs it)', async () => {
    const { coordination, writes } = flakyCoordination(10);
    const { log } = recordingLog();
    const renders = sharedRenderStates(coordination, 'instance-a', log, { endRetriesMs: [1, 1] });
    await expect(renders.update('project-1', { status: 'failed', error: 'render failed', finishedAt: end.finishedAt })).rejects.toThrow(
      'connection terminated',
    );
    expect(writes).toHaveLength(3);
  });
});
