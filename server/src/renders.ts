/**
 * Promo-video renders' state (`POST …/generate-movie`, `GET …/movie-status`, http/routes/publish.ts): at most one
 * render per project at a time, and its progress the same whichever instance is asked.
 *
 * One instance keeps it in memory. Several keep it in the database (migration 010, `Coordination`): the instance that
 * renders writes its progress there (at most every PROGRESS_WRITE_MS: a render reports progress many times a second)
 * and its end at once, again a few times over half a minute if the database refuses it (else the row would say
 * `rendering` until this instance leaves); a render whose instance died reads as failed (`SERVER_RESTART`) and may be
 * started again.
 */
import type { Coordination, RenderPatch, RenderRecord } from './db/repository.js';
import type { Logger } from './logger.js';

export type { RenderRecord } from './db/repository.js';

export interface RenderStates {
  /** Starts the project's render here unless one is on (anywhere): `claimed` says whether this instance renders it. */
  claim(projectId: string): Promise<{ claimed: boolean; render: RenderRecord }>;
  /** This instance's render: progress (written soon) or its end (written before this resolves). */
  update(projectId: string, patch: RenderPatch): Promise<void>;
  /** The project's render of the last KEEP_FINISHED_MS (or the one still on), or null. */
  get(projectId: string): Promise<RenderRecord | null>;
}

/** How long a finished render's outcome is reported; after that the status route says `idle` (and where the movie is). */
export const KEEP_FINISHED_MS = 60 * 60_000;
const PROGRESS_WRITE_MS = 500;
/** The waits before writing a render's end again after a failed write (31.5 s in all). */
const END_RETRIES_MS = [500, 1000, 2000, 4000, 8000, 16_000];

const ended = (render: RenderRecord) => render.finishedAt !== undefined && Date.now() - Date.parse(render.finishedAt) > KEEP_FINISHED_MS;

/** One instance: a map (two POSTs at once both find, or both miss, the entry before any await: one render). */
export function memoryRenderStates(): RenderStates {
  const renders = new Map<string, RenderRecord>();
  const current = (projectId: string) => {
    const render = renders.get(projectId);
    if (render && ended(render)) renders.delete(projectId);
    return renders.get(projectId) ?? null;
  };
  return {
    async claim(projectId) {
      const on = current(projectId);
      if (on?.status === 'rendering') return { claimed: false, render: { ...on } };
      const render: RenderRecord = { status: 'rendering', percent: 0, stage: 'starting', startedAt: new Date().toISOString() };
      renders.set(projectId, render);
      return { claimed: true, render: { ...render } };
    },
    async update(projectId, patch) {
      const render = renders.get(projectId);
      if (render) Object.assign(render, patch);
    },
    async get(projectId) {
      const render = current(projectId);
      return render && { ...render };
    },
  };
}

/** Several instances: the database's row, written by `owner` (this instance's id). */
export function sharedRenderStates(coordination: Coordination, owner: string, log: Logger, options: { endRetriesMs?: readonly number[] } = {}): RenderStates {
  const retries = options.endRetriesMs ?? END_RETRIES_MS;
  /** The end, written until the database takes it (a moment's outage must not leave the row `rendering`). */
  const writeEnd = async (projectId: string, patch: RenderPatch) => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await coordination.updateRender(projectId, owner, patch);
      } catch (error) {
        if (attempt >= retries.length) throw error;
        log.warn({ err: error, projectId, attempt: attempt + 1 }, 'writing a render’s end failed; trying again');
        await new Promise((resolve) => setTimeout(resolve, retries[attempt]));
      }
    }
  };
  /** Progress not yet written, per project, and when it will be. */
  const waiting = new Map<string, { patch: RenderPatch; timer: NodeJS.Timeout }>();
  const lastWrite = new Map<string, number>();
  const writeProgress = (projectId: string) => {
    const entry = waiting.get(projectId);
    waiting.delete(projectId);
    if (!entry) return;
    lastWrite.set(projectId, Date.now());
    // Only while rendering: a late progress write must not undo the end written meanwhile.
    coordination.updateRender(projectId, owner, entry.patch, { whileRendering: true }).catch((error: unknown) => {
      log.warn({ err: error, projectId }, 'writing a render’s progress failed');
    });
  };
  return {
    claim: (projectId) => coordination.claimRender(projectId, owner),
    async update(projectId, patch) {
      const entry = waiting.get(projectId);
      if (patch.status === 'done' || patch.status === 'failed') {
        if (entry) clearTimeout(entry.timer);
        waiting.delete(projectId);
        lastWrite.delete(projectId);
        await writeEnd(projectId, patch);
        return;
      }
      if (entry) {
        Object.assign(entry.patch, patch);
        return;
      }
      const wait = Math.max(0, (lastWrite.get(projectId) ?? 0) + PROGRESS_WRITE_MS - Date.now());
      const timer = setTimeout(() => writeProgress(projectId), wait);
      timer.unref();
      waiting.set(projectId, { patch: { ...patch }, timer });
    },
    async get(projectId) {
      const render = await coordination.getRender(projectId);
      return render && !ended(render) ? render : null;
    },
  };
}
