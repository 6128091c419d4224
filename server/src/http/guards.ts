/**
 * Authentication and ownership for REST routes: the one place a request becomes a user and a project.
 * Errors keep V2's texts (`No access token provided`, `Invalid project ID`, `Project not found`, `Access denied`).
 */
import type { NextFunction, Request, Response } from 'express';
import { isUuid } from '@dreamcore/runtime-core';
import type { ServerContext, UserRepo } from '../context.js';
import { AuthError, tokenFromHeaders, type Identity } from '../auth/verify.js';
import type { ProjectRecord } from '../db/repository.js';

/**
 * NUL is never part of a name, a prompt or an id, and PostgreSQL cannot store it in text: requests carrying one
 * are refused with this 400 where they enter (path and query, JSON bodies, upload forms; app.ts and assets.ts).
 */
export const NUL_MESSAGE = 'Text may not contain NUL characters';

export interface AuthedRequest extends Request {
  identity: Identity;
  repo: UserRepo;
  project?: ProjectRecord;
}

type Handler = (req: AuthedRequest, res: Response, next: NextFunction) => unknown;

/** Wraps an async handler so a rejection reaches the error middleware. */
export function route(handler: Handler) {
  return (req: Request, res: Response, next: NextFunction) => {
    Promise.resolve(handler(req as AuthedRequest, res, next)).catch(next);
  };
}

export function requireAuth(ctx: ServerContext) {
  return route(async (req, res, next) => {
    try {
      req.identity = await ctx.verify(tokenFromHeaders(req.headers));
      req.repo = ctx.db.forUser(req.identity.userId, req.identity.token);
      next();
    } catch (error) {
      if (!(error instanceof AuthError)) throw error;
      res.status(401).json({ error: error.reason === 'missing' ? 'No access token provided' : 'Invalid or expired token' });
    }
  });
}

/** Attaches the identity when a valid token is present; anonymous otherwise. */
export function optionalAuth(ctx: ServerContext) {
  return route(async (req, _res, next) => {
    const token = tokenFromHeaders(req.headers);
    if (token) {
      try {
        req.identity = await ctx.verify(token);
        req.repo = ctx.db.forUser(req.identity.userId, req.identity.token);
      } catch {
        /* anonymous */
      }
    }
    next();
  });
}

export function ownProject(param = 'projectId') {
  return route(async (req, res, next) => {
    const id = req.params[param];
    if (!isUuid(id)) return res.status(400).json({ error: 'Invalid project ID' });
    const project = await req.repo.getProject(id);
    if (!project) return res.status(404).json({ error: 'Project not found' });
    if (project.userId !== req.identity.userId) return res.status(403).json({ error: 'Access denied' });
    req.project = project;
    next();
  });
}

export function scopeOf(req: AuthedRequest) {
  return { userId: req.identity.userId, projectId: req.project!.id };
}
