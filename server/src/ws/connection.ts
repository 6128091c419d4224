/**
 * One WebSocket connection: DreamCore's message protocol with V2's bugs fixed: every job event carries `seq` and
 * `subscribeJob {lastSeq}` replays exactly what was missed; malformed or unknown messages get `{type:"error"}` and
 * the connection stays; per-connection and per-user rate limits.
 *
 * Hostile input: frames are counted before they are parsed; over its budget a socket is paused (what it sends
 * waits in TCP buffers) and frames already read are dropped unparsed, so a flood costs the others nothing; a frame is parsed by `ws/messages.ts` alone; messages of one socket are handled one after another, in
 * the order sent (a `message` right after `selectProject` sees the project selected); and every handler runs inside
 * one error boundary: a failure answers this socket with an error and is logged, it never reaches the process.
 */
import { randomUUID } from 'node:crypto';
import type { WebSocket } from 'ws';
import { isBackendError } from '@dreamcore/runtime-core';
import type { ServerContext, UserRepo } from '../context.js';
import { AuthError, type Identity } from '../auth/verify.js';
import { listVersions, restoreGameVersion, WELCOME_HTML } from '../versions.js';
import type { JobEvent } from '../jobs/manager.js';
import { DEFAULT_PROJECT_NAME } from '../jobs/agent-turn.js';
import type { JobRecord, ProjectRecord } from '../db/repository.js';
import { jobWire, projectBrief } from '../wire.js';
import { RateLimiter, TokenBucket } from '../rate-limit.js';
import { decideStyle, styleOptions, type Dimension } from '../styles.js';
import { parseFrame, type ClientMessage, type MessageOf } from './messages.js';
import { WATCHING_MS } from '../notifications/notifier.js';

/** How long a style question blocks new creation messages in its project (contract: 5 min, per socket). */
const STYLE_PENDING_MS = 5 * 60_000;

/** Messages waiting for their turn on one socket; beyond this the socket is sending faster than it can be served. */
const MAX_QUEUED = 64;

type Msg<T extends ClientMessage['type']> = MessageOf<T>;

export class Connection {
  readonly id = randomUUID();
  identity: Identity | null = null;
  private repo: UserRepo | null = null;
  private currentProjectId: string | null = null;
  private subscription: { jobId: string; unsubscribe: () => void } | null = null;
  private pendingStyle: { projectId: string; dimension: Dimension; expires: number } | null = null;
  private readonly authTimer: NodeJS.Timeout;
  private readonly limiter: RateLimiter;
  private readonly frames: TokenBucket;
  private resumeTimer: NodeJS.Timeout | null = null;
  /** Frames dropped over budget since the sender was last told. */
  private droppedFrames = 0;
  /** The tail of this socket's message chain: each message starts when the one before it has been handled. */
  private tail: Promise<void> = Promise.resolve();
  private queued = 0;
  private closed = false;
  /**
   * What the app said about its tab (`viewState`) and when this socket was last heard from (`ping`, `viewState`). A
   * socket counts as someone watching only once it has said its tab is visible (contract: "reported visibility").
   */
  private view = { visible: false, since: Date.now(), lastSeenAt: Date.now() };

  constructor(
    private readonly ws: WebSocket,
    private readonly ctx: ServerContext,
  ) {
    this.limiter = new RateLimiter(ctx.config.WS_MESSAGES_PER_MIN, 60_000);
    this.frames = new TokenBucket(ctx.config.WS_FRAME_BURST, ctx.config.WS_FRAMES_PER_SEC);
    this.authTimer = setTimeout(() => {
      if (!this.identity) this.ws.close(4008, 'Authentication timeout');
    }, ctx.config.WS_AUTH_TIMEOUT_MS);
    ws.on('message', (data, isBinary) => this.receive(data, isBinary));
    ws.on('close', () => this.dispose());
    ws.on('error', () => this.dispose());
  }

  get userId(): string | null {
    return this.identity?.userId ?? null;
  }

  /**
   * Someone was looking at the app on this socket at `at`: its tab was visible then and it was heard from within
   * WATCHING_MS. A job's end is judged at the moment it ended, not when its notice is written: a tab that comes back
   * after seeing the end (its terminal event) was away when it happened.
   */
  watching(at = Date.now()): boolean {
    if (this.closed) return false;
    const visibleThen = this.view.since <= at ? this.view.visible : !this.view.visible;
    return visibleThen && at - this.view.lastSeenAt < WATCHING_MS;
  }

  /** Tells presence (whether its user is watching, on any instance) that this socket was heard from or closed. */
  private heard(): void {
    if (this.identity) this.ctx.presence.heard(this.identity.userId, this.watching());
  }

  send(message: Record<string, unknown>): void {
    if (this.closed || this.ws.readyState !== this.ws.OPEN) return;
    this.ws.send(JSON.stringify(message));
  }

  private error(message: string, extra: Record<string, unknown> = {}): void {
    this.send({ type: 'error', message, ...extra });
  }

  private structured(code: string, message: string, extra: Record<string, unknown> = {}): void {
    this.send({ type: 'error', error: { code, message, ...extra } });
  }

  dispose(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.authTimer);
    if (this.resumeTimer) clearTimeout(this.resumeTimer);
    this.subscription?.unsubscribe();
    this.subscription = null;
    this.ctx.connections.delete(this);
    this.heard();
  }

  /**
   * Every frame enters here, synchronously, from the socket's `message` event. Nothing that happens below may throw
   * out of this method: the socket's event emitter would take it to the process.
   */
  private receive(data: unknown, isBinary: boolean): void {
    try {
      if (this.closed) return;
      if (!this.frames.take()) {
        // Over budget: dropped unparsed (ws had read it already). The sender hears how many when the pause ends.
        this.ctx.metrics.wsDroppedFrames.inc();
        this.droppedFrames++;
        return this.pauseUntilNextFrame();
      }
      this.reportDropped();
      if (this.frames.msUntilNext() > 0) this.pauseUntilNextFrame();
      const frame = parseFrame(data, isBinary);
      if (!frame.ok) {
        if (frame.reason === 'format') return this.error('Invalid message format');
        if (frame.reason === 'type') return this.error('Unknown message type');
        return this.error('Invalid request', { detail: frame.detail });
      }
      if (frame.message.type === 'ping') {
        this.view.lastSeenAt = Date.now();
        this.heard();
        return this.send({ type: 'pong' });
      }
      if (!frame.free && !this.limiter.take(this.id)) {
        return this.structured('RATE_LIMITED', 'Too many messages. Please slow down.');
      }
      if (this.queued >= MAX_QUEUED) return this.structured('RATE_LIMITED', 'Too many messages. Please slow down.');
      this.queued++;
      const message = frame.message;
      this.tail = this.tail.then(() => this.handle(message)).finally(() => void this.queued--);
    } catch (error) {
      this.handlerFailed(error, 'receive');
    }
  }

  /**
   * Stops reading this socket until its next frame is allowed: the sender's frames wait in TCP buffers. When it reads
   * again, the sender first hears how many frames were dropped meanwhile: at once, not with the next frame let
   * through, because a sender whose last frames were dropped may send nothing more and would never hear it.
   */
  private pauseUntilNextFrame(): void {
    if (this.resumeTimer || this.closed) return;
    this.ws.pause();
    this.resumeTimer = setTimeout(
      () => {
        this.resumeTimer = null;
        if (this.closed) return;
        // A timer counts from the event loop's clock as the turn began, so after a busy turn it fires early by the
        // budget's clock: resuming then would drop the next frame of a sender who waited for the notice.
        if (this.frames.msUntilNext() > 0) return this.pauseUntilNextFrame();
        this.reportDropped();
        this.ws.resume();
      },
      Math.max(1, this.frames.msUntilNext()),
    );
  }

  /** Tells the sender how many of its frames were dropped over budget since it was last told (once per count). */
  private reportDropped(): void {
    if (this.droppedFrames === 0) return;
    this.structured('RATE_LIMITED', 'Too many messages. Some were not processed; please slow down.', { dropped: this.droppedFrames });
    this.droppedFrames = 0;
  }

  /** The error boundary of one message: whatever fails is logged and answered on this socket; nothing escapes. */
  private async handle(message: ClientMessage): Promise<void> {
    try {
      if (this.closed) return;
      if (message.type === 'init') return await this.init(message);
      if (!this.identity || !this.repo) return this.error('Not initialized');
      await this.dispatch(message);
    } catch (error) {
      this.handlerFailed(error, message.type);
    }
  }

  private handlerFailed(error: unknown, type: string): void {
    try {
      this.ctx.metrics.boundaryErrors.inc({ where: 'ws' });
      this.ctx.log.error({ err: error, type, userId: this.userId }, 'ws handler failed');
      this.structured('OPERATION_FAILED', isBackendError(error) ? error.message : 'Operation failed');
    } catch {
      // Logging or sending failed too (a closed socket, a broken logger): there is no one left to tell.
    }
  }

  private async dispatch(message: ClientMessage): Promise<void> {
    switch (message.type) {
      case 'init':
      case 'ping':
        return; // answered before the queue
      case 'viewState': {
        const visible = message.visible ?? true;
        const now = Date.now();
        this.view = { visible, since: visible === this.view.visible ? this.view.since : now, lastSeenAt: now };
        this.heard();
        return;
      }
      case 'deselectProject':
        this.currentProjectId = null;
        this.pendingStyle = null;
        return;
      case 'selectProject':
        return this.selectProject(message);
      case 'createProject':
        return this.createProject(message);
      case 'deleteProject':
        return this.deleteProject(message);
      case 'renameProject':
        return this.renameProject(message);
      case 'getProjectInfo': {
        const project = await this.ownProject(message.projectId);
        if (project) this.send({ type: 'projectInfo', project: projectBrief(project) });
        return;
      }
      case 'message':
        return this.message(message);
      case 'getJobStatus': {
        const job = await this.ownJob(message.jobId);
        return this.send({ type: 'jobStatus', job: job ? jobWire(job) : null, lastSeq: job ? this.ctx.jobs.events.lastSeq(job.id) : 0 });
      }
      case 'subscribeJob': {
        const job = await this.ownJob(message.jobId);
        if (!job) return this.error('Job not found');
        this.send({ type: 'subscribed', jobId: message.jobId });
        return this.subscribe(message.jobId, message.lastSeq ?? 0);
      }
      case 'cancelJob':
      case 'cancel': {
        const jobId = message.jobId;
        if (!jobId) return this.send({ type: 'cancelled', message: 'Operation cancelled' });
        const job = await this.ownJob(jobId);
        if (!job) return this.error(message.type === 'cancel' ? 'Access denied' : 'Failed to cancel job');
        await this.ctx.jobs.cancel(jobId);
        return this.send(message.type === 'cancel' ? { type: 'cancelled', message: 'Job cancelled', jobId } : { type: 'jobCancelled', jobId });
      }
      case 'getVersions':
        return this.sendVersions(message.projectId);
      case 'getVersionEdits':
        return this.versionEdits(message);
      case 'restoreVersion':
        return this.restoreVersion(message);
      default: {
        const unreachable: never = message;
        return this.error('Unknown message type', { type: String((unreachable as { type?: unknown }).type) });
      }
    }
  }

  // ------------------------------------------------------------ handshake

  private async init({ access_token: token }: Msg<'init'>): Promise<void> {
    if (this.identity) return this.error('Already initialized');
    if (!token) {
      this.error('access_token required');
      return this.ws.close(4001, 'Authentication required');
    }
    let identity: Identity;
    try {
      identity = await this.ctx.verify(token);
    } catch (error) {
      this.error(error instanceof AuthError ? error.message : 'Invalid token');
      return this.ws.close(4001, 'Authentication failed');
    }
    // The socket counts as signed in only once everything below has worked (a failure leaves it as it was).
    const repo = this.ctx.db.forUser(identity.userId, identity.token);
    await this.ctx.db.service.ensureUser({ id: identity.userId, email: identity.email ?? `${identity.userId}@users.local` });
    const projects = await repo.listProjects(identity.userId);
    if (this.closed) return;
    this.identity = identity;
    this.repo = repo;
    clearTimeout(this.authTimer);
    this.ctx.connections.add(this);
    this.send({ type: 'init', userId: identity.userId, projects, demoMode: this.ctx.config.demoMode });
    // A user who connects is about to work: get their execution environment ready (Modal: a warm sandbox).
    this.ctx.backend.prewarm({ userId: identity.userId }).catch((error: unknown) => this.ctx.log.warn({ err: error }, 'prewarm failed'));
  }

  // ------------------------------------------------------------ projects

  /** The project when the caller owns it; otherwise says so and returns null. */
  private async ownProject(projectId: string): Promise<ProjectRecord | null> {
    const project = await this.repo!.getProject(projectId);
    if (!project || project.userId !== this.userId) {
      this.error('Access denied');
      return null;
    }
    return project;
  }

  private async selectProject({ projectId }: Msg<'selectProject'>): Promise<void> {
    const project = await this.ownProject(projectId);
    if (!project) return;
    this.currentProjectId = projectId;
    const [history, activeJob] = await Promise.all([this.repo!.latestChat(projectId, 50), this.repo!.activeJobForProject(projectId)]);
    this.send({
      type: 'projectSelected',
      projectId,
      history: history.map((h) => ({ role: h.role, content: h.message, timestamp: h.createdAt })),
      versions: [],
      activeJob: activeJob ? jobWire(activeJob) : null,
    });
    if (activeJob && (activeJob.status === 'pending' || activeJob.status === 'processing')) {
      this.send({ type: 'subscribed', jobId: activeJob.id });
      await this.subscribe(activeJob.id, 0);
    }
    await this.sendVersions(projectId, false);
  }

  private async createProject({ name }: Msg<'createProject'>): Promise<void> {
    const userId = this.userId!;
    const quota = await this.ctx.quota.consume(userId, 'projects_created');
    if (!quota.allowed) {
      return this.structured('DAILY_PROJECT_LIMIT_EXCEEDED', '本日のプロジェクト作成上限に達しました。', {
        remaining: 0,
        limit: quota.limit,
        resetAt: quota.resetAt,
      });
    }
    const project = await this.repo!.createProject(userId, name ?? DEFAULT_PROJECT_NAME);
    const scope = { userId, projectId: project.id };
    await this.ctx.backend.files.write(scope, 'index.html', WELCOME_HTML);
    await this.ctx.backend.git.init(scope, { message: 'Initial project setup' });
    this.currentProjectId = project.id;
    this.send({ type: 'projectCreated', project: projectBrief(project), projects: await this.repo!.listProjects(userId) });
  }

  private async deleteProject({ projectId }: Msg<'deleteProject'>): Promise<void> {
    if (!(await this.ownProject(projectId))) return;
    const active = await this.repo!.activeJobForProject(projectId);
    if (active) await this.ctx.jobs.cancel(active.id);
    await this.repo!.deleteProject(projectId);
    await this.ctx.backend.files.deleteProject({ userId: this.userId!, projectId }).catch((error: unknown) => {
      if (!isBackendError(error, 'NOT_FOUND')) throw error;
    });
    if (this.currentProjectId === projectId) this.currentProjectId = null;
    this.send({ type: 'projectDeleted', projectId, projects: await this.repo!.listProjects(this.userId!) });
  }

  private async renameProject({ projectId, name }: Msg<'renameProject'>): Promise<void> {
    if (!(await this.ownProject(projectId))) return;
    const project = await this.repo!.renameProject(projectId, name);
    if (!project) return this.error('Access denied');
    this.send({ type: 'projectRenamed', project: projectBrief(project), projects: await this.repo!.listProjects(this.userId!) });
  }

  // ------------------------------------------------------------ generation

  private async message(msg: Msg<'message'>): Promise<void> {
    const projectId = this.currentProjectId;
    if (!projectId) return this.error('No project selected');
    if (!(await this.ownProject(projectId))) return;
    const userId = this.userId!;
    const [sent, active] = await Promise.all([
      msg.clientMessageId ? this.repo!.jobForMessage(projectId, msg.clientMessageId) : null,
      this.repo!.activeJobForProject(projectId),
    ]);
    // Sent again (the app heard no answer before its connection dropped): the job it started, running or over, is
    // joined from its first event, so the reply arrives once (no second run, no quota spent).
    if (sent) return this.join(sent);
    // The project is busy: join its job instead of starting a second one (no quota spent).
    if (active && this.ctx.jobs.isActive(active)) return this.join(active);
    const scope = { userId, projectId };
    const open = this.pendingStyle?.projectId === projectId && this.pendingStyle.expires > Date.now() ? this.pendingStyle.dimension : null;
    const style = await decideStyle(msg, open, () => this.hasStyle(scope));
    if (style.kind === 'invalid') return this.error('Invalid request', { detail: style.detail });
    if (style.kind === 'remind') return this.send({ type: 'info', message: 'スタイルを選択してください。', pendingStyle: { dimension: style.dimension } });
    if (style.kind === 'ask') {
      // No quota or AI rate spent: the client answers with the same message and `selectedStyle` or `skipStyleSelection`.
      this.pendingStyle = { projectId, dimension: style.dimension, expires: Date.now() + STYLE_PENDING_MS };
      return this.send({ type: 'styleOptions', dimension: style.dimension, styles: styleOptions(style.dimension), originalMessage: msg.content });
    }
    // Only a message that may start the agent counts against the AI rate (not joins, style questions or bad input).
    if (!(await this.ctx.aiLimiter.take(userId))) {
      return this.structured('RATE_LIMITED', 'Too many AI requests. Please wait a minute before trying again.');
    }
    const quota = await this.ctx.quota.consume(userId, 'messages_sent');
    if (!quota.allowed) {
      return this.structured('DAILY_MESSAGE_LIMIT_EXCEEDED', '本日のメッセージ上限に達しました。', {
        remaining: 0,
        limit: quota.limit,
        resetAt: quota.resetAt,
      });
    }
    const admission = await this.ctx.jobs.admit(userId, projectId, msg.clientMessageId ?? null);
    if (admission.kind === 'user-limit') {
      const projects = await this.repo!.listProjects(userId);
      return this.send({
        type: 'limitExceeded',
        limit: this.ctx.config.MAX_JOBS_PER_USER,
        inProgress: admission.running.length,
        jobs: admission.running.map((j) => ({
          jobId: j.id,
          projectId: j.projectId,
          projectName: projects.find((p) => p.id === j.projectId)?.name ?? '',
          status: j.status,
          createdAt: j.createdAt,
        })),
        pendingPrompt: { content: msg.rawContent ?? msg.content, attachedAssets: msg.attachedAssets ?? [], selectedStyle: msg.selectedStyle ?? null },
      });
    }
    if (admission.kind === 'system-limit') {
      return this.structured('SYSTEM_LIMIT_EXCEEDED', 'サーバーが混み合っています。しばらくしてからお試しください。');
    }
    if (admission.kind === 'existing') return this.join(admission.job);
    if (msg.selectedStyle || msg.skipStyleSelection) {
      if (this.pendingStyle?.projectId === projectId) this.pendingStyle = null;
      // Only now that the job runs (a refused message leaves no trace). The prompt carries the guideline anyway.
      if (style.styleFile) {
        await this.ctx.backend.files
          .write(scope, 'STYLE.md', style.styleFile)
          .catch((error: unknown) => this.ctx.log.warn({ err: error, projectId }, 'STYLE.md not written'));
      }
    }
    await this.repo!.addChat(projectId, 'user', msg.content);
    const job = admission.job;
    await this.subscribe(job.id, 0);
    this.send({ type: 'jobStarted', job: jobWire(job), isExisting: false });
    void this.ctx.jobs.runGeneration(job, style.prompt, () => this.send({ type: 'gameUpdated', userId, projectId }), { language: msg.language });
  }

  /** A job this message does not start: the socket follows it from its first event (`isExisting`). */
  private async join(job: JobRecord): Promise<void> {
    this.send({ type: 'jobStarted', job: jobWire(job), isExisting: true });
    this.send({ type: 'subscribed', jobId: job.id });
    await this.subscribe(job.id, 0);
  }

  /** Whether the project has a style decision (a chosen style or `# SKIPPED`): a non-empty STYLE.md. */
  private async hasStyle(scope: { userId: string; projectId: string }): Promise<boolean> {
    try {
      return (await this.ctx.backend.files.readText(scope, 'STYLE.md')).trim() !== '';
    } catch (error) {
      if (isBackendError(error, 'NOT_FOUND')) return false;
      throw error;
    }
  }

  private async ownJob(jobId: string) {
    const job = await this.ctx.db.service.getJob(jobId);
    return job && job.userId === this.userId ? job : null;
  }

  /** One job subscription per connection (a new one replaces the old), starting after `afterSeq`. */
  private async subscribe(jobId: string, afterSeq: number): Promise<void> {
    this.subscription?.unsubscribe();
    const entry = { jobId, unsubscribe: () => undefined as unknown };
    this.subscription = entry as { jobId: string; unsubscribe: () => void };
    const unsubscribe = await this.ctx.jobs.subscribe(jobId, afterSeq, (event: JobEvent) => this.send(event));
    if (this.subscription === entry && !this.closed) entry.unsubscribe = unsubscribe;
    else unsubscribe();
  }

  // ------------------------------------------------------------ versions

  private async sendVersions(projectId: string, checkOwner = true): Promise<void> {
    if (checkOwner && !(await this.ownProject(projectId))) return;
    const versions = await listVersions(this.ctx.backend, { userId: this.userId!, projectId });
    this.send({ type: 'versionsList', projectId, ...versions });
  }

  private async versionEdits({ projectId, versionHash }: Msg<'getVersionEdits'>): Promise<void> {
    if (!(await this.ownProject(projectId))) return;
    const scope = { userId: this.userId!, projectId };
    const { commits } = await this.ctx.backend.git.log(scope, { limit: 500 });
    const commit = commits.find((c) => c.hash.startsWith(versionHash));
    if (!commit) return this.send({ type: 'versionEdits', projectId, versionHash, edits: [], summary: '' });
    const diff = commit.parents[0] ? await this.ctx.backend.git.diff(scope, commit.parents[0], commit.hash) : null;
    this.send({
      type: 'versionEdits',
      projectId,
      versionHash,
      edits: diff ? [{ diff: diff.patch }] : [],
      files: diff?.files ?? commit.files.map((path) => ({ path, status: 'added' })),
      summary: commit.message,
    });
  }

  private async restoreVersion({ projectId, versionId }: Msg<'restoreVersion'>): Promise<void> {
    if (!/^[0-9a-f]{7,40}$/.test(versionId)) return this.error('Invalid version ID format');
    if (!(await this.ownProject(projectId))) return;
    const active = await this.repo!.activeJobForProject(projectId);
    if (active && this.ctx.jobs.isActive(active)) return this.error('A generation is running for this project; cancel it first');
    this.send({ type: 'restoreProgress', stage: 'checkout', message: 'バージョンを復元しています' });
    try {
      const result = await restoreGameVersion(this.ctx.backend, { userId: this.userId!, projectId }, versionId, `Restore to ${versionId.slice(0, 7)}`);
      await this.repo!.markInitialized(projectId);
      await this.repo!.touchProject(projectId);
      this.send({ type: 'versionRestored', projectId, versionId, hash: result.hash });
      await this.sendVersions(projectId, false);
    } catch (error) {
      this.error(isBackendError(error) ? error.message : 'Failed to restore version');
    }
  }
}
