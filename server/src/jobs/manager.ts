/**
 * Durable jobs: admission (1 running per user, 50 in total), the generation pipeline on the execution backend,
 * sequence-numbered events, cancel that really stops the work, one timeout, the version committed on success,
 * cost recorded per job, and at boot every job a crash interrupted marked failed (recoverable).
 *
 * A generation (agent-turn.ts has the rules): the agent's turn with the chosen skills and the job's tools → the game
 * check → when it failed, one repair turn with the errors and a second check → commit → the project named from
 * SPEC.md on its first generation → `completed` with the reply, the check, the images and the suggestions.
 */
import {
  isBackendError,
  listSkills,
  type AgentResult,
  type ExecutionBackend,
  type GameCheckResult,
  type RunClaudeRequest,
  runCommitMessage,
} from '@dreamcore/runtime-core';
import type { Logger } from '../logger.js';
import { safeText } from '../logger.js';
import { JobEventLog, type JobEvent, type JobListener } from './events.js';
import {
  JOB_CANCEL_CHANNEL,
  JOB_EVENTS_CHANNEL,
  SERVER_RESTART_CODE,
  type Coordination,
  type JobAdmission,
  type JobPatch,
  type JobRecord,
  type ServiceRepository,
} from '../db/repository.js';
import { jobWire, projectBrief } from '../wire.js';
import { createJobTools, IMAGE_COST_USD, type GeneratedImage } from './tools.js';
import { DEFAULT_PROJECT_NAME, repairPrompt, skillsFor, specTitle, type CheckedTurn } from './agent-turn.js';
import { versionSubject } from '../versions.js';
import { requestLanguage, stepForTool, stepText, toolDetail, toolStep, type StepKey, type StepLanguage, type ToolKind } from './steps.js';
import { withLanguage, type Language } from '../language.js';

/** What the job manager needs from the database, at the service level. */
export type JobsRepo = Pick<
  ServiceRepository,
  | 'createJob'
  | 'getJob'
  | 'updateJob'
  | 'activeJobForProject'
  | 'failInterruptedJobs'
  | 'getProject'
  | 'setAgentSession'
  | 'markInitialized'
  | 'touchProject'
  | 'addChat'
  | 'appendJobEvents'
  | 'jobEventsSince'
  | 'jobEventsAfter'
  | 'admitJob'
  | 'renewLeases'
  | 'renameProject'
  | 'listProjects'
>;

/** How generations use the agent's extras (config: GAME_CHECK, GAME_CHECK_REPAIR_TURNS, AGENT_IMAGES_PER_JOB). */
export interface AgentSettings {
  /** Check the game after every turn (when the backend can). */
  gameCheck: boolean;
  /** Automatic repair turns after a failed check (0: none). */
  repairTurns: number;
  maxImagesPerJob: number;
  /** Makes an image for the job's user and lists it as their asset; without it the agent gets no image tool. */
  generateImage?: (
    userId: string,
    request: { prompt: string; style?: string; width?: number; height?: number; signal: AbortSignal },
  ) => Promise<GeneratedImage>;
}

export const DEFAULT_AGENT_SETTINGS: AgentSettings = { gameCheck: true, repairTurns: 1, maxImagesPerJob: 4 };

export interface JobLimits {
  perUser: number;
  total: number;
  timeoutMs: number;
}

export type Admission = JobAdmission;

/**
 * Where this instance stands among others (docs/design.md, "Several instances"). Alone (the embedded database):
 * every active job is its own, and at boot every one of them was interrupted. Shared (`coordination`): a job is
 * its instance's while its lease is renewed; an instance sweeps the jobs whose lease ran out.
 */
export interface InstanceSettings {
  /** This instance's id: the lease owner of the jobs it admits. */
  id: string;
  leaseMs: number;
  /** How often job events are written (shared: the latency to sockets on other instances). */
  eventFlushMs?: number;
  coordination?: Coordination | null;
}

interface Running {
  job: JobRecord;
  controller: AbortController;
  /** 'lease': another instance failed the job (this one lost its lease): nothing more is recorded. */
  cancelledBy: 'user' | 'lease' | null;
  admittedAt: number;
}

/** Japanese UI text per failure code, as DreamCore clients show it. */
const USER_MESSAGES: Record<string, string> = {
  CLI_TIMEOUT: '処理がタイムアウトしました。もう一度お試しください。',
  CLI_KILLED: '処理が中断されました。もう一度お試しください。',
  CLI_TERMINATED: '処理が中断されました。もう一度お試しください。',
  NETWORK_ERROR: 'AIサービスに接続できませんでした。しばらくしてからお試しください。',
  RATE_LIMIT: 'AIサービスが混み合っています。しばらくしてからお試しください。',
  AUTH_ERROR: 'AIサービスの認証に失敗しました。',
  SERVER_RESTART: 'サーバーが再起動したため処理が中断されました。もう一度お試しください。',
};
const DEFAULT_USER_MESSAGE = 'ゲームの生成中にエラーが発生しました。';

const INTERRUPTED = 'The server restarted while this job was running.';

export class JobManager {
  readonly events: JobEventLog;
  private readonly running = new Map<string, Running>();
  private readonly finishing = new Set<Promise<void>>();
  private readonly coordination: Coordination | null;
  private heartbeat: NodeJS.Timeout | null = null;
  private stopCancels: (() => Promise<void>) | null = null;

  constructor(
    private readonly repo: JobsRepo,
    private readonly backend: ExecutionBackend,
    private readonly limits: JobLimits,
    private readonly log: Logger,
    private readonly hooks: {
      /** After every job's end (any way); `language` is the one the app spoke to the user who asked. */
      onFinished?: (job: JobRecord, durationMs: number, request: { language?: Language; endedAt: number }) => void;
      onBoundaryError?: (error: unknown) => void;
    } = {},
    private readonly agent: AgentSettings = DEFAULT_AGENT_SETTINGS,
    private readonly instance: InstanceSettings = { id: 'single', leaseMs: 30_000 },
  ) {
    this.coordination = instance.coordination ?? null;
    const coordination = this.coordination;
    this.events = new JobEventLog(repo, (error) => log.error({ err: error }, 'job event write failed'), {
      ...(instance.eventFlushMs ? { flushMs: instance.eventFlushMs } : {}),
      shared: coordination && {
        listen: (onWritten) =>
          // `jobId:lastSeq`, comma-separated when one write had several jobs' events (postgres.ts); '' when some may
          // have been missed (the listening connection came back).
          coordination.listen(JOB_EVENTS_CHANNEL, (payload) => {
            for (const entry of payload.split(',')) {
              const at = entry.lastIndexOf(':');
              if (at < 0) onWritten(null, 0);
              else onWritten(entry.slice(0, at), Number(entry.slice(at + 1)));
            }
          }),
      },
    });
  }

  /** Other instances may run jobs on this database. */
  get shared(): boolean {
    return this.coordination !== null;
  }

  /**
   * Boot. Alone: nothing can still be running, so every pending/processing job was interrupted. Shared: only the
   * jobs whose lease ran out are (the others belong to live instances); then the heartbeat, the sweep, and the
   * event and cancel feeds start.
   */
  async reapInterrupted(): Promise<number> {
    if (!this.coordination) {
      const count = await this.repo.failInterruptedJobs(INTERRUPTED);
      if (count > 0) this.log.warn({ count }, 'marked interrupted jobs failed (recoverable)');
      return count;
    }
    await this.events.start();
    this.stopCancels = await this.coordination.listen(JOB_CANCEL_CHANNEL, (jobId) => {
      if (this.running.has(jobId)) void this.cancel(jobId).catch((error: unknown) => this.log.error({ err: error, jobId }, 'cancel failed'));
    });
    const count = await this.sweep();
    this.heartbeat = setInterval(() => void this.beat(), Math.max(100, Math.floor(this.instance.leaseMs / 3)));
    this.heartbeat.unref();
    return count;
  }

  /** Fails the jobs of instances that died (their lease ran out), with a terminal event their sockets receive. */
  async sweep(): Promise<number> {
    if (!this.coordination) return 0;
    const failed = await this.coordination.failExpiredJobs(INTERRUPTED, (job) => ({
      type: 'failed',
      payload: failedPayload(job, INTERRUPTED, SERVER_RESTART_CODE, true, null),
    }));
    if (failed.length > 0)
      this.log.warn({ count: failed.length, jobs: failed.map((j) => j.id) }, 'failed the jobs of an instance that stopped (lease expired)');
    return failed.length;
  }

  /** The heartbeat: renew this instance's leases, stop jobs another instance has failed, sweep the dead's. */
  private async beat(): Promise<void> {
    try {
      const started = Date.now();
      const held = new Set(await this.repo.renewLeases({ owner: this.instance.id, ms: this.instance.leaseMs }));
      for (const [jobId, r] of this.running) {
        // Admitted after the renewal began: not in its answer yet.
        if (held.has(jobId) || r.admittedAt >= started || r.controller.signal.aborted) continue;
        this.log.warn({ jobId }, 'lost the lease of a running job (another instance failed it): stopping it');
        r.cancelledBy = 'lease';
        r.controller.abort();
      }
      await this.sweep();
    } catch (error) {
      this.log.error({ err: error }, 'lease heartbeat failed');
    }
  }

  /** Stops the heartbeat and the feeds (shutdown, after cancelAll). */
  async stop(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    await this.stopCancels?.();
    await this.events.stop();
  }

  get runningCount(): number {
    return this.running.size;
  }

  runningFor(userId: string): JobRecord[] {
    return [...this.running.values()].filter((r) => r.job.userId === userId).map((r) => r.job);
  }

  isRunning(jobId: string): boolean {
    return this.running.has(jobId);
  }

  /** Whether an active job row is being worked on: here, or (shared) by the instance holding its lease. */
  isActive(job: JobRecord): boolean {
    return this.running.has(job.id) || (this.shared && (job.status === 'pending' || job.status === 'processing'));
  }

  /**
   * Admits a generation for a project: the job the message with `clientMessageId` already started, or the project's
   * active job, or a new one within the limits. The database decides (one function under an advisory lock), so the
   * limits hold, and a message starts one job, across every instance.
   */
  async admit(userId: string, projectId: string, clientMessageId: string | null = null): Promise<Admission> {
    const lease = { owner: this.instance.id, ms: this.instance.leaseMs };
    const admission = await this.repo.admitJob(userId, projectId, this.limits, lease, clientMessageId);
    if (admission.kind === 'started') {
      this.running.set(admission.job.id, { job: admission.job, controller: new AbortController(), cancelledBy: null, admittedAt: Date.now() });
      this.events.open(admission.job.id);
    }
    return admission;
  }

  subscribe(jobId: string, afterSeq: number, listener: JobListener): Promise<() => void> {
    return this.events.subscribe(jobId, afterSeq, listener);
  }

  private async update(jobId: string, patch: JobPatch): Promise<JobRecord> {
    const job = await this.repo.updateJob(jobId, patch);
    if (!job) throw new Error(`job ${jobId} vanished`);
    const r = this.running.get(jobId);
    if (r) r.job = job;
    return job;
  }

  /**
   * A step of the job, for people: `message` in the user's language (V2's field), `step` for a client's own words,
   * and the tool call behind it (the chat folds those away): `tool` (its kind) and `file` for the app's own words,
   * `detail` ("Write index.html") for V2 clients.
   */
  private async progress(
    jobId: string,
    progress: number,
    step: StepKey,
    lang: StepLanguage,
    call?: { detail: string; tool: ToolKind; file?: string },
  ): Promise<void> {
    const message = stepText(step, lang);
    const job = await this.update(jobId, { progress, progressMessage: message });
    this.events.emit(jobId, 'progress', { job: jobWire(job), progress, message, step, ...call });
  }

  /**
   * Runs a chat message through the agent on the backend. Resolves when the job has ended (any way).
   * `onCompleted` runs after the version is committed (the server sends `gameUpdated` to the sender). `language` is
   * the one the app speaks to the user: the agent is told to answer in it (server/src/language.ts).
   */
  runGeneration(job: JobRecord, prompt: string, onCompleted?: (job: JobRecord) => void, options: { language?: Language } = {}): Promise<void> {
    // Callers start a generation and walk away (`void`): this promise must never reject. A failure that even
    // `fail()` could not record (the database gone) is logged; the boot-time reaper settles the row later.
    const done = this.generate(job, prompt, onCompleted, options.language).catch((error: unknown) => {
      this.hooks.onBoundaryError?.(error);
      this.log.error({ err: error, jobId: job.id }, 'job ended without its final state recorded');
    });
    this.finishing.add(done);
    void done.finally(() => this.finishing.delete(done));
    return done;
  }

  private async generate(job: JobRecord, prompt: string, onCompleted?: (job: JobRecord) => void, language?: Language): Promise<void> {
    const r = this.running.get(job.id);
    if (!r) throw new Error(`job ${job.id} was not admitted`);
    const scope = { userId: job.userId, projectId: job.projectId };
    const started = Date.now();
    let final: JobRecord = job;
    // The steps speak the app's language when it is one of theirs, else the request's (a style guideline after "---"
    // does not count).
    const lang: StepLanguage = language === 'ja' || language === 'en' ? language : requestLanguage(prompt.split(/\n-{3,}\n/)[0] ?? prompt);
    try {
      final = await this.update(job.id, { status: 'processing', progress: 5, progressMessage: stepText('starting', lang) });
      this.events.emit(job.id, 'started', { job: jobWire(final) });
      const project = await this.repo.getProject(job.projectId);
      const firstGeneration = project ? !project.isInitialized : false;
      await this.progress(job.id, 10, 'starting', lang);

      const skills = skillsFor(
        (await listSkills()).map((skill) => skill.name),
        prompt,
      );
      const generateImage = this.agent.generateImage;
      const { tools, state } = createJobTools({
        maxImages: this.agent.maxImagesPerJob,
        generateImage: (request) => (generateImage ? generateImage(job.userId, request) : Promise.reject(new Error('no image generator'))),
        onImage: (image) => {
          this.events.emit(job.id, 'imagesGenerated', { images: { [image.alias]: image.url }, message: image.alias });
        },
      });
      const offered = generateImage && this.agent.maxImagesPerJob > 0 ? tools : tools.filter((tool) => tool.name !== 'generate_image');

      const progress = { value: 10, hasGame: project?.isInitialized ?? false };
      const namesItself = firstGeneration && project?.name === DEFAULT_PROJECT_NAME;
      // Every turn ends with its commit and the reads the job needs, done by the backend in the run's own round trip
      // (one request on Modal): the version's subject is the request's first line, its body the agent's summary. A
      // repair turn is a version of its own (what the repair changed, undoable); a failed or cancelled turn commits nothing.
      const after = { commit: { subject: versionSubject(prompt) }, read: ['index.html', ...(namesItself ? ['SPEC.md'] : [])] };
      const turn = (turnPrompt: string, sessionId: string | undefined) =>
        this.turn(
          job.id,
          { prompt: withLanguage(turnPrompt, language), sessionId, skills, tools: offered, signal: r.controller.signal, after },
          progress,
          lang,
        );
      const turns = [await turn(prompt, project?.agentSessionId ?? undefined)];
      let check = await this.check(job.id, scope, r.controller.signal, 1, lang);
      let repairTurns = 0;
      while (check && !check.passed && repairTurns < this.agent.repairTurns) {
        repairTurns++;
        await this.progress(job.id, Math.max(progress.value, 60), 'improving', lang);
        turns.push(await turn(repairPrompt(check, prompt), turns.at(-1)!.sessionId ?? undefined));
        check = await this.check(job.id, scope, r.controller.signal, repairTurns + 1, lang);
      }
      const results = turns;
      const result = results.at(-1)!;

      await this.progress(job.id, 92, 'saving', lang);
      const done = result.after;
      // A backend that did not do `after` (one outside this repository) gets the same calls made here.
      const commit = done?.commit ?? (await this.backend.git.commit(scope, runCommitMessage(versionSubject(prompt), { type: 'result', result: result.text })!));
      if (result.sessionId) await this.repo.setAgentSession(job.projectId, result.sessionId);
      await this.repo.markInitialized(job.projectId);
      // The user sees every turn's words: the first reply and, after a failed check, the repair's.
      const message =
        results
          .map((t) => t.text.trim())
          .filter((t) => t !== '')
          .join('\n\n') || 'ゲームを更新しました';
      await this.repo.addChat(job.projectId, 'assistant', message);
      const read = async (path: string): Promise<string | null> =>
        done?.files && Object.hasOwn(done.files, path) ? (done.files[path] ?? null) : await this.backend.files.readText(scope, path).catch(() => null);
      const html = (await read('index.html')) ?? undefined;
      if (namesItself) await this.nameFromSpec(job.id, scope, await read('SPEC.md'));
      const sum = (pick: (t: AgentResult) => number) => results.reduce((total, t) => total + pick(t), 0);
      final = await this.update(job.id, {
        status: 'completed',
        progress: 100,
        progressMessage: null,
        result: JSON.stringify({ message, generator: 'claude', version: commit.hash, filesChanged: [...new Set(results.flatMap((t) => t.filesChanged))] }),
        costUsd: sum((t) => t.costUsd) + state.images.length * IMAGE_COST_USD,
        inputTokens: sum((t) => t.usage.inputTokens + t.usage.cacheReadInputTokens + t.usage.cacheCreationInputTokens),
        outputTokens: sum((t) => t.usage.outputTokens),
        wallMs: Date.now() - started,
        sandboxMs: sum((t) => t.durationMs),
        sessionId: result.sessionId,
        gameCheck: check ? JSON.stringify(check) : null,
        repairTurns,
        imagesGenerated: state.images.length,
      });
      this.events.emit(job.id, 'completed', {
        job: jobWire(final),
        result: {
          message,
          html,
          generator: 'claude',
          version: commit.hash,
          gameCheck: check,
          turns: sum((t) => t.numTurns),
          repairTurns,
          images: state.images,
          suggestions: state.suggestions,
        },
      });
      // After the terminal event nothing may turn the job into a failure (a second terminal event).
      try {
        onCompleted?.(final);
      } catch (error) {
        this.hooks.onBoundaryError?.(error);
        this.log.error({ err: error, jobId: job.id }, 'completion callback failed');
      }
    } catch (error) {
      final = await this.fail(job.id, error, Date.now() - started);
    } finally {
      // The moment its terminal event went out (before the events are flushed): when the user learnt it ended.
      const endedAt = Date.now();
      this.running.delete(job.id);
      await this.events.finish(job.id);
      try {
        this.hooks.onFinished?.(final, Date.now() - started, { language, endedAt });
      } catch (error) {
        this.log.error({ err: error, jobId: job.id }, 'job metrics failed');
      }
    }
  }

  /** One agent turn, its events turned into the job's `stream` and `progress` steps. Rejects with the run's error. */
  private async turn(
    jobId: string,
    request: Omit<RunClaudeRequest, 'scope'> & { skills: string[]; signal: AbortSignal },
    progress: { value: number; hasGame: boolean },
    lang: StepLanguage,
  ): Promise<AgentResult> {
    const job = this.running.get(jobId)!.job;
    let result: AgentResult | null = null;
    const run = this.backend.runClaude({ scope: { userId: job.userId, projectId: job.projectId }, timeoutMs: this.limits.timeoutMs, ...request });
    for await (const event of run) {
      if (event.type === 'text') {
        this.events.emit(jobId, 'stream', { content: event.delta });
      } else if (event.type === 'tool_use') {
        progress.value = Math.min(90, progress.value + 10);
        const step = stepForTool(event.name, event.input, { hasGame: progress.hasGame });
        await this.progress(jobId, progress.value, step, lang, { detail: toolDetail(event.name, event.input), ...toolStep(event.name, event.input) });
      } else if (event.type === 'status' && event.status === 'retrying') {
        await this.progress(jobId, progress.value, 'reconnecting', lang);
      } else if (event.type === 'result') {
        result = event.result;
      }
    }
    result ??= await run.result; // rejects with the terminal error
    progress.hasGame = true;
    return result;
  }

  /** The game check after a turn (`gameCheck` event); null when it is off or the backend cannot, or there is no game. */
  private async check(
    jobId: string,
    scope: { userId: string; projectId: string },
    signal: AbortSignal,
    attempt: number,
    lang: StepLanguage,
  ): Promise<CheckedTurn | null> {
    if (!this.agent.gameCheck || !this.backend.capabilities.checkGame.supported) return null;
    await this.progress(jobId, 88, 'checking', lang);
    let result: GameCheckResult;
    try {
      result = await this.backend.checkGame({ scope, signal });
    } catch (error) {
      if (isBackendError(error, 'NOT_FOUND')) return null; // nothing to play yet
      if (signal.aborted || isBackendError(error, 'CANCELLED')) throw error;
      // The checker failing is not the game failing: the turn stands, and the log says why.
      this.log.warn({ err: error, jobId }, 'game check could not run');
      return null;
    }
    const checked: CheckedTurn = { ...result, attempt };
    this.events.emit(jobId, 'gameCheck', { check: checked });
    return checked;
  }

  /** First generation of an unnamed project: its name from SPEC.md's title (`projectRenamed`). */
  private async nameFromSpec(jobId: string, scope: { userId: string; projectId: string }, spec: string | null): Promise<void> {
    const title = spec === null ? null : specTitle(spec);
    if (!title) return;
    const project = await this.repo.renameProject(scope.projectId, title);
    if (!project) return;
    this.events.emit(jobId, 'projectRenamed', { project: projectBrief(project), projects: await this.repo.listProjects(scope.userId) });
  }

  private async fail(jobId: string, error: unknown, wallMs: number): Promise<JobRecord> {
    const r = this.running.get(jobId);
    if (r?.cancelledBy === 'lease') {
      // Another instance has already failed it (with its terminal event): nothing of this run is recorded.
      this.events.discard(jobId);
      return (await this.repo.getJob(jobId)) ?? r.job;
    }
    if (isBackendError(error, 'CANCELLED') || r?.cancelledBy === 'user') {
      const job = await this.update(jobId, { status: 'cancelled', progressMessage: null, wallMs });
      this.events.emit(jobId, 'cancelled', { job: jobWire(job) });
      return job;
    }
    const code = isBackendError(error) ? error.code : 'UNKNOWN_ERROR';
    const recoverable = isBackendError(error) ? error.recoverable : false;
    const exitCode = isBackendError(error) && typeof error.details.exitCode === 'number' && error.details.exitCode !== 0 ? error.details.exitCode : null;
    const message = safeText(error instanceof Error ? error.message : String(error));
    if (!isBackendError(error)) this.log.error({ err: error, jobId }, 'job failed unexpectedly');
    const job = await this.update(jobId, { status: 'failed', error: message, errorCode: code, recoverable, progressMessage: null, wallMs });
    this.events.emit(jobId, 'failed', failedPayload(job, message, code, recoverable, exitCode));
    return job;
  }

  /** Stops a job's backend work (the run's process tree) and marks it cancelled. */
  async cancel(jobId: string): Promise<JobRecord | null> {
    const r = this.running.get(jobId);
    if (r) {
      r.cancelledBy = 'user';
      r.controller.abort();
      return r.job;
    }
    const job = await this.repo.getJob(jobId);
    if (job && (job.status === 'pending' || job.status === 'processing') && this.coordination) {
      // Another instance runs it: that one stops it (and records the cancel). Were it dead, its lease runs out and
      // the sweep fails the job within the documented bound.
      await this.coordination.notify(JOB_CANCEL_CHANNEL, jobId);
      return job;
    }
    if (job && (job.status === 'pending' || job.status === 'processing')) {
      // Not running in this process (left by a crash): nothing to stop, only the row to settle.
      const updated = (await this.repo.updateJob(jobId, { status: 'cancelled' }))!;
      this.events.emit(jobId, 'cancelled', { job: jobWire(updated) });
      await this.events.finish(jobId);
      return updated;
    }
    return job;
  }

  /** Cancels everything and waits until every job has settled (shutdown). */
  async cancelAll(): Promise<void> {
    await Promise.all([...this.running.keys()].map((id) => this.cancel(id)));
    await Promise.allSettled([...this.finishing]);
  }
}

/** The `failed` event's fields: the same whether the job's own instance failed it or a sweep did. */
function failedPayload(job: JobRecord, error: string, code: string, recoverable: boolean, exitCode: number | null): Record<string, unknown> {
  return { job: jobWire(job), error, code, userMessage: USER_MESSAGES[code] ?? DEFAULT_USER_MESSAGE, recoverable, exitCode };
}

export type { JobEvent };
