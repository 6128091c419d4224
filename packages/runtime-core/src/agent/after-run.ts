/**
 * `RunClaudeRequest.after`: the commit and the reads the caller would make right after a run, done by the backend in
 * the run's own round trip.
 *
 * The commit message depends on how the run ended (the agent's final reply goes in its body), and on Modal it is made
 * inside the sandbox, where the run ends, so that no round trip back to the server is needed before committing. The
 * rule is therefore written once, as JavaScript source (RUN_COMMIT_MESSAGE_SOURCE): the local backend evaluates it
 * here, in-process, and the Modal backend ships the same text into the sandbox with the run's request. Its input is
 * the CLI's last `result` line (what StreamJsonTranslator keeps as the run's result), so both ends see the same thing.
 */
import { runInNewContext } from 'node:vm';
import { createError, isBackendError } from '../errors.js';
import { normalizeRelativePath } from '../scope.js';
import type { AfterRun, AfterRunResult, CommitResult, FilesCapability, GitCapability, ProjectScope } from '../contract.js';

/** Longest agent reply kept in a commit message's body. */
export const AFTER_RUN_REPLY_CHARS = 2000;
export const AFTER_RUN_MAX_SUBJECT = 200;
export const AFTER_RUN_MAX_READS = 8;

/**
 * `(subject, resultLine) => message | null`: null when the line is not a successful result (nothing to commit);
 * otherwise the subject, then — when the agent's final reply (`result`) has words — a blank line and that reply,
 * trimmed, without control characters other than newline and tab, at most AFTER_RUN_REPLY_CHARS characters.
 * Plain ES2020 with no outside names: it runs in a bare `node -e` too.
 */
export const RUN_COMMIT_MESSAGE_SOURCE = String.raw`(function (subject, line) {
  if (!line || typeof line !== 'object' || line.type !== 'result' || line.is_error === true) return null;
  var reply = typeof line.result === 'string' ? line.result : '';
  reply = reply.replace(/\r\n?/g, '\n').replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '').trim().slice(0, ${AFTER_RUN_REPLY_CHARS}).trim();
  return reply === '' ? subject : subject + '\n\n' + reply;
})`;

/** The rule above, in this process. */
export const runCommitMessage = runInNewContext(RUN_COMMIT_MESSAGE_SOURCE) as (subject: string, resultLine: unknown) => string | null;

/** Checks `after` before a run starts: a bad one is a run that has already failed (INVALID_ARGUMENT / INVALID_PATH). */
export function validateAfterRun(after: AfterRun | undefined): void {
  if (after === undefined) return;
  if (typeof after !== 'object' || after === null) throw createError('INVALID_ARGUMENT', 'after is an object');
  if (after.commit !== undefined) {
    const subject: unknown = after.commit?.subject;
    if (typeof subject !== 'string' || subject.trim() === '' || subject.length > AFTER_RUN_MAX_SUBJECT) {
      throw createError('INVALID_ARGUMENT', `after.commit.subject is one line of 1 to ${AFTER_RUN_MAX_SUBJECT} characters`);
    }
    // eslint-disable-next-line no-control-regex -- control characters are what this refuses
    if (/[\u0000-\u001f\u007f]/.test(subject)) throw createError('INVALID_ARGUMENT', 'after.commit.subject is one line without control characters');
  }
  if (after.read !== undefined) {
    if (!Array.isArray(after.read) || after.read.length > AFTER_RUN_MAX_READS) {
      throw createError('INVALID_ARGUMENT', `after.read is a list of at most ${AFTER_RUN_MAX_READS} paths`);
    }
    for (const path of after.read) normalizeRelativePath(path);
  }
}

const NOT_THERE = ['NOT_FOUND', 'CONFLICT', 'ACCESS_DENIED', 'TOO_LARGE'] as const;

/** A file that is not there to read is null in `after.files`; anything else (the backend failing) is an error. */
export function unreadable(error: unknown): null {
  if (NOT_THERE.some((code) => isBackendError(error, code))) return null;
  throw error;
}

/** The parts of `after` a backend did where the run ended; those left undefined did not happen there. */
export interface AfterRunDone {
  message?: string;
  commit?: CommitResult;
  /** Per path of `after.read`, in order. */
  files?: (string | null | undefined)[];
}

/**
 * `after`, done with the backend's own capabilities, one call after another: the local backend's way (in-process, no
 * round trips), and what the Modal backend does for any part its run's request did not (`done`: no command helper
 * there, or a project without a repository).
 */
export async function afterRunWith(
  capabilities: { git: GitCapability; files: FilesCapability },
  scope: ProjectScope,
  after: AfterRun,
  resultLine: unknown,
  done: AfterRunDone = {},
): Promise<AfterRunResult> {
  const result: AfterRunResult = {};
  if (after.commit) {
    const message = done.message ?? runCommitMessage(after.commit.subject, resultLine);
    if (message === null) throw createError('INTERNAL', 'the run ended without a successful result line to commit');
    result.commit = { ...(done.commit ?? (await capabilities.git.commit(scope, message))), message };
  }
  if (after.read) {
    result.files = {};
    for (const [i, path] of after.read.entries()) {
      const text = done.files?.[i];
      result.files[path] = text !== undefined ? text : await capabilities.files.readText(scope, path).catch(unreadable);
    }
  }
  return result;
}
