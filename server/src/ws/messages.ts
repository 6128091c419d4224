/**
 * The WebSocket messages a client may send (contract: docs of the WebSocket protocol), and the one function that
 * turns a frame into a typed message. A name from the wire is only ever looked up in a `Map`: a plain object would
 * answer `toString`, `constructor` or `__proto__` with something that is not a schema (one such frame once stopped
 * the server).
 */
import { z } from 'zod';
import { isUuid } from '@dreamcore/runtime-core';
import { LANGUAGES } from '../language.js';

/** A UUID in any case, as V2's clients sent it; lower case from here on. */
const uuid = z
  .string()
  .max(36)
  .toLowerCase()
  .refine((s) => isUuid(s), 'Invalid UUID');

const attachedAsset = z.object({
  id: z.string().max(100).optional(),
  alias: z.string().max(200).optional(),
  name: z.string().max(200).optional(),
  url: z.string().max(2048).optional(),
});

const schemas = {
  init: z.object({ access_token: z.string().min(1).max(8192).optional(), sessionId: z.string().max(200).optional() }),
  ping: z.object({}),
  viewState: z.object({ projectId: uuid.optional(), visible: z.boolean().optional() }),
  deselectProject: z.object({}),
  selectProject: z.object({ projectId: uuid }),
  createProject: z.object({ name: z.string().trim().min(1).max(100).optional() }),
  deleteProject: z.object({ projectId: uuid }),
  renameProject: z.object({ projectId: uuid, name: z.string().trim().min(1).max(100) }),
  getProjectInfo: z.object({ projectId: uuid }),
  message: z.object({
    content: z.string().trim().min(1).max(20_000),
    rawContent: z.string().max(20_000).optional(),
    // Only echoed back (limitExceeded.pendingPrompt): kept to the fields a client sends, flat and bounded.
    attachedAssets: z.array(attachedAsset).max(20).optional(),
    selectedStyle: z.object({ dimension: z.string().max(10), styleId: z.string().max(100) }).optional(),
    skipStyleSelection: z.boolean().optional(),
    autoFix: z.boolean().optional(),
    debugOptions: z.object({ useClaude: z.boolean().optional(), disableSkills: z.boolean().optional() }).optional(),
    async: z.boolean().optional(),
    // The language the app speaks to the user: the agent answers in it (server/src/language.ts).
    language: z.enum(LANGUAGES).optional(),
    // The app's id for this message, the same when it sends it again: one job per id (migration 012).
    clientMessageId: uuid.optional(),
  }),
  getJobStatus: z.object({ jobId: uuid }),
  subscribeJob: z.object({ jobId: uuid, lastSeq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional() }),
  cancelJob: z.object({ jobId: uuid }),
  cancel: z.object({ jobId: uuid.optional() }),
  getVersions: z.object({ projectId: uuid }),
  getVersionEdits: z.object({ projectId: uuid, versionHash: z.string().regex(/^[0-9a-f]{4,40}$/) }),
  restoreVersion: z.object({ projectId: uuid, versionId: z.string().max(64) }),
} as const;

export type MessageType = keyof typeof schemas;
/** A parsed client message: its `type` and its validated fields. */
export type ClientMessage = { [T in MessageType]: { type: T } & z.infer<(typeof schemas)[T]> }[MessageType];
export type MessageOf<T extends MessageType> = Extract<ClientMessage, { type: T }>;

const SCHEMAS: ReadonlyMap<string, z.ZodType> = new Map(Object.entries(schemas));

/** Every message type, for tests and docs. */
export const MESSAGE_TYPES: readonly MessageType[] = Object.keys(schemas) as MessageType[];

/** The fields a message type takes (besides `type`), for tests and docs. */
export function messageFields(type: MessageType): string[] {
  return Object.keys(schemas[type].shape);
}

/** Messages that cost no rate budget: heartbeats and view bookkeeping. */
const FREE: ReadonlySet<string> = new Set<MessageType>(['ping', 'viewState']);

/** Messages a socket may send before `init` has authenticated it. */
const BEFORE_INIT: ReadonlySet<string> = new Set<MessageType>(['init', 'ping']);

export type ParsedFrame =
  | { ok: true; message: ClientMessage; free: boolean; beforeInit: boolean }
  | { ok: false; reason: 'format' }
  | { ok: false; reason: 'type' }
  | { ok: false; reason: 'invalid'; type: MessageType; detail: string | undefined };

/** JSON text → the frame's message type, without validating its fields (so the rate limit can come first). */
export function frameType(parsed: unknown): string | null {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return null;
  const type = Object.hasOwn(parsed, 'type') ? (parsed as { type: unknown }).type : undefined;
  return typeof type === 'string' && SCHEMAS.has(type) ? type : null;
}

export function isFree(type: string): boolean {
  return FREE.has(type);
}

export function allowedBeforeInit(type: string): boolean {
  return BEFORE_INIT.has(type);
}

/** Validates the fields of a frame whose type `frameType` accepted. */
export function parseFields(type: string, parsed: unknown): ParsedFrame {
  const schema = SCHEMAS.get(type);
  if (!schema) return { ok: false, reason: 'type' };
  const result = schema.safeParse(parsed);
  if (!result.success) return { ok: false, reason: 'invalid', type: type as MessageType, detail: result.error.issues[0]?.message };
  return {
    ok: true,
    message: { ...(result.data as object), type } as ClientMessage,
    free: FREE.has(type),
    beforeInit: BEFORE_INIT.has(type),
  };
}

/** A whole frame: bytes → JSON → type → fields. */
export function parseFrame(data: unknown, isBinary: boolean): ParsedFrame {
  if (isBinary) return { ok: false, reason: 'format' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(String(data));
  } catch {
    return { ok: false, reason: 'format' };
  }
  const type = frameType(parsed);
  if (type === null) return { ok: false, reason: 'type' };
  // NUL is never part of a message, and the database cannot store it in text: refused here, not by PostgreSQL.
  if (String(data).includes('\\u0000')) return { ok: false, reason: 'invalid', type: type as MessageType, detail: 'Text may not contain NUL characters' };
  return parseFields(type, parsed);
}
