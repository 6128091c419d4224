/**
 * One file from `multipart/form-data` (multer, in memory), with a JSON 400/413 for every way an upload can be
 * refused: V2's multer errors fell through to a generic 500. Used by asset uploads and publish thumbnails.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import multer from 'multer';
import { NUL_MESSAGE } from './guards.js';

export interface UploadOptions {
  field: string;
  maxBytes: number;
  /** Returns an error message to refuse the file (400), or null. */
  accept: (file: { originalname: string; mimetype: string }) => string | null;
}

export function formatBytes(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${Math.round((bytes / 1024 / 1024) * 10) / 10} MB` : `${Math.round(bytes / 1024)} KB`;
}

/**
 * Stable codes of upload refusals (the `code` beside `error`): the client words its message by them.
 * `TOO_LARGE` 413, `UNSUPPORTED_TYPE` 400 (extension or declared type not allowed), `INVALID_UPLOAD` 400.
 */
export type UploadRefusalCode = 'TOO_LARGE' | 'UNSUPPORTED_TYPE' | 'INVALID_UPLOAD';

/** A multer error or a refused file as the client should see it: status, message and code. */
export function uploadErrorResponse(error: unknown, maxBytes: number): { status: number; error: string; code: UploadRefusalCode } | null {
  if (error instanceof multer.MulterError) {
    switch (error.code) {
      case 'LIMIT_FILE_SIZE':
        return { status: 413, error: `File too large (max ${formatBytes(maxBytes)})`, code: 'TOO_LARGE' };
      case 'LIMIT_UNEXPECTED_FILE':
        return { status: 400, error: `Unexpected file field${error.field ? ` "${error.field}"` : ''}`, code: 'INVALID_UPLOAD' };
      case 'LIMIT_FILE_COUNT':
        return { status: 400, error: 'Only one file may be uploaded', code: 'INVALID_UPLOAD' };
      default:
        return { status: 400, error: error.message, code: 'INVALID_UPLOAD' };
    }
  }
  if (error instanceof UploadRefused) return { status: 400, error: error.message, code: 'UNSUPPORTED_TYPE' };
  // busboy: a body that is not valid multipart ("Unexpected end of form", "Malformed part header", ...).
  if (error instanceof Error && /multipart|form|part header|boundary/i.test(error.message))
    return { status: 400, error: `Invalid upload: ${error.message}`, code: 'INVALID_UPLOAD' };
  return null;
}

class UploadRefused extends Error {}

/**
 * One file from `multipart/form-data`, in memory, with a JSON 400/413 for every way an upload can be refused.
 * Must run after `requireAuth` so anonymous bodies are never buffered.
 */
export function singleUpload(options: UploadOptions): RequestHandler {
  const handler = multer({
    storage: multer.memoryStorage(),
    // Browsers send UTF-8 file names without saying so; multer's default (latin1) would garble them.
    defParamCharset: 'utf8',
    limits: { fileSize: options.maxBytes, files: 1, fields: 20, fieldSize: 64 * 1024, parts: 25 },
    fileFilter: (_req, file, callback) => {
      const refusal = options.accept(file);
      if (refusal) callback(new UploadRefused(refusal));
      else callback(null, true);
    },
  }).single(options.field);
  return (req: Request, res: Response, next: NextFunction) => {
    handler(req, res, (error?: unknown) => {
      if (!error) {
        // Form fields and the file name are text headed for the database (NUL_MESSAGE, guards.ts).
        const texts = [req.file?.originalname ?? '', ...Object.values((req.body ?? {}) as Record<string, unknown>)];
        if (texts.some((v) => typeof v === 'string' && v.includes('\u0000'))) return res.status(400).json({ error: NUL_MESSAGE });
        return next();
      }
      const mapped = uploadErrorResponse(error, options.maxBytes);
      if (mapped) return res.status(mapped.status).json({ error: mapped.error, code: mapped.code });
      next(error);
    });
  };
}
