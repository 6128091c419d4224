/**
 * The shapes DreamCore's clients see (docs/protocol.md, "Shapes used below"), made from repository records.
 * Job and project rows stay snake_case on the wire, as V2 sent them; summaries are camelCase.
 */
import type { JobRecord, ProjectRecord } from './db/repository.js';

export interface JobWire {
  id: string;
  user_id: string;
  project_id: string;
  status: JobRecord['status'];
  progress: number;
  progress_message: string | null;
  result: string | null;
  error: string | null;
  error_code: string | null;
  recoverable: boolean | null;
  cost: { usd: number | null; input_tokens: number | null; output_tokens: number | null; wall_ms: number | null; sandbox_ms: number | null };
  /** The last game check of the job (null when none ran), the repair turns it caused, the images the agent made. */
  game_check: unknown;
  repair_turns: number;
  images_generated: number;
  /** The `clientMessageId` of the chat message that started it (null when it came without one). */
  client_message_id: string | null;
  created_at: string;
  updated_at: string;
}

export function jobWire(job: JobRecord): JobWire {
  return {
    id: job.id,
    user_id: job.userId,
    project_id: job.projectId,
    status: job.status,
    progress: job.progress,
    progress_message: job.progressMessage,
    result: job.result,
    error: job.error,
    error_code: job.errorCode,
    recoverable: job.recoverable,
    cost: { usd: job.costUsd, input_tokens: job.inputTokens, output_tokens: job.outputTokens, wall_ms: job.wallMs, sandbox_ms: job.sandboxMs },
    game_check: job.gameCheck ? (JSON.parse(job.gameCheck) as unknown) : null,
    repair_turns: job.repairTurns,
    images_generated: job.imagesGenerated,
    client_message_id: job.clientMessageId,
    created_at: job.createdAt,
    updated_at: job.updatedAt,
  };
}

export function projectRowWire(p: ProjectRecord) {
  return {
    id: p.id,
    user_id: p.userId,
    name: p.name,
    is_public: p.isPublic,
    remixed_from: p.remixedFrom,
    public_id: p.publicId,
    is_initialized: p.isInitialized,
    created_at: p.createdAt,
    updated_at: p.updatedAt,
  };
}

export function projectBrief(p: ProjectRecord) {
  return { id: p.id, name: p.name, createdAt: p.createdAt, updatedAt: p.updatedAt };
}
