/**
 * Which files of a project are the game itself, and what a published snapshot differs from the current version in.
 *
 * A project folder also holds things made *about* the game: the promo video and its thumbnail, the publish form
 * (`PUBLISH.json`) and the look the user picked (`STYLE.md`, read by the agent). Changing those is not a new version
 * of the game: it does not make the public game out of date and is not listed as a version in the history.
 */
import { isBackendError, type ExecutionBackend, type ProjectScope } from '@dreamcore/runtime-core';

const NOT_GAME = new Set(['movie.mp4', 'thumbnail.webp', 'thumbnail.png', 'PUBLISH.json', 'STYLE.md']);

/** True for the files players get: everything but the media and settings above, and hidden paths. */
export function isGameContent(path: string): boolean {
  if (NOT_GAME.has(path)) return false;
  return !path.split('/').some((segment) => segment.startsWith('.'));
}

/** The promo video, thumbnails, publish form and style: made about the game, kept when a game version is restored. */
export function isMediaOrSettings(path: string): boolean {
  return NOT_GAME.has(path);
}

export interface SnapshotStatus {
  /** The project's current version (HEAD), null when it has no history. */
  head: string | null;
  /** Game files that differ between the published snapshot and the current version (empty: players have it all). */
  changedFiles: string[];
}

/** The current version of a project: its newest commit. */
export async function headCommit(backend: ExecutionBackend, scope: ProjectScope): Promise<string | null> {
  try {
    return (await backend.git.log(scope, { limit: 1 })).commits[0]?.hash ?? null;
  } catch (error) {
    if (isBackendError(error, 'NOT_FOUND')) return null;
    throw error;
  }
}

/**
 * How the published snapshot `commit` compares with the project now. A game published before snapshots existed
 * (`commit` null) serves the current files, so it is never behind.
 */
export async function snapshotStatus(backend: ExecutionBackend, scope: ProjectScope, commit: string | null): Promise<SnapshotStatus> {
  const head = await headCommit(backend, scope);
  if (commit === null || head === null || head === commit) return { head, changedFiles: [] };
  const diff = await backend.git.diff(scope, commit, head);
  return { head, changedFiles: diff.files.map((f) => f.path).filter(isGameContent) };
}
