/**
 * runClaude in the user's sandbox: the real `claude` CLI, started by one exec whose stdout is streamed line by line
 * into runtime-core's StreamJsonTranslator (the same translator the local backend feeds), so the event stream is the
 * local one. No webhooks, no callback URLs: the exec's stdout is the stream.
 *
 * One command per run (RUN_SCRIPT, as root in the sandbox) does everything around the CLI. It goes through the
 * sandbox's command helper (helper.ts) with the prompt in the same request, its output streamed back on the helper's
 * stdout: a warm run costs 1 RPC. (In the Secret mode, or where the helper cannot run, it is an exec of its own: 4
 * RPCs plus the prompt on stdin.) The script:
 *   1. refuses a missing project or skill before anything starts (NOT_FOUND, the model is never asked);
 *   2. confines the agent: the CLI runs as an unprivileged uid of the project's own (`setpriv`), which owns only
 *      that project's files (not `.git`) and its CLI state dir's `/vol/.agent/{projectId}`, and, during the run,
 *      the two dirs themselves; every other project and state dir, the asset space and the backend's scratch space
 *      are mode 0700 root, so the agent can neither read nor write them (the CLI refuses bypassPermissions as root
 *      anyway). The files keep their owner between runs: only what the backend wrote since is given to the agent,
 *      so a run changes the ownership of no file it did not touch (each changed entry is re-committed to the volume);
 *   3. runs the CLI in its own session (`setsid`), cwd `/vol/projects/{projectId}`, HOME and CLAUDE_CONFIG_DIR the
 *      per-project state dir on the volume (so `--resume` works in any later sandbox), the chosen skills linked in
 *      from the read-only skills volume, the prompt on stdin (argv is limited to 64 KiB by the SDK);
 *   4. afterwards kills whatever the agent left in its session, puts `.git` back if the agent moved it, gives the
 *      project and state dirs and `.git` back to root, syncs the volume (a run with `after` leaves that to the last
 *      step of its helper request, which runs whatever became of the run: one volume commit per turn, not two), and
 *      prints the changed paths after a per-run marker line (through the helper, the diff of the manifests, the
 *      removal of the run's files and the sync are the request's own last steps: runTail).
 * Each process it starts is paid on every run, so it starts few: shell builtins where they do, one `find` walk for
 * each ownership change and the manifest taken with it.
 *
 * Cancel and timeout: Modal has no per-process kill, so a second command (KILL_SCRIPT, through the helper too) sends
 * SIGTERM, then SIGKILL after 1 s, to the run's session (`pkill -s`), found through a pid file named by the run's random marker; a flag
 * file covers a cancel that arrives before the CLI has started. A watchdog inside the sandbox enforces the bound even
 * if this process dies (the helper's `watch` on the run's step; a subshell's sleep when the run is an exec). Sandbox death mid-run is SANDBOX_ERROR.
 *
 * The provider key never enters the sandbox: the agent gets a per-run token for the key proxy (runtime-core's
 * `startKeyProxy`) that runs in this process on a fixed port and that sandboxes reach only at its public URL
 * (`agent.proxyPublicUrl`, MODAL_KEY_PROXY_URL: your ingress or tunnel). Only when the operator says so
 * (MODAL_ALLOW_KEY_IN_SANDBOX=true, no proxy URL) is the key handed to the run as an ephemeral Modal Secret, and the
 * agent CAN then read it (it is in its environment): this is logged loudly at start-up and documented in the README.
 */
import { randomBytes } from 'node:crypto';
import type { ModalClient, Sandbox, Secret } from 'modal';
import {
  afterRunWith,
  claudeInvocation,
  commitOutcome,
  commitSteps,
  unreadable,
  createError,
  isBackendError,
  DEFAULT_AGENT_TIMEOUT_MS,
  startRun,
  validateAgentRequest,
  RunChannel,
  normalizeRelativePath,
  startKeyProxy,
  StreamJsonTranslator,
  validateProjectScope,
  validateRunRequest,
  type AfterRunDone,
  type AgentRun,
  type FilesCapability,
  type GitCapability,
  type KeyProxy,
  type ProjectScope,
  type RunClaudeRequest,
} from '@dreamcore/runtime-core';
import { execText, helperOf, isSandboxGone, modalFailure, readLines, sandboxError, sandboxIsRunning, SandboxGoneError, withDeadline } from './client.js';
import { MOUNT, type ResolvedModalConfig } from './config.js';
import { readAnswer, readStep, volumePath } from './files.js';
import { gitSequenceSteps, gitSequenceResult } from './git.js';
import type { HelperResult, HelperStep } from './helper.js';
import type { SandboxPool } from './sandboxes.js';

const RUNS_DIR = '/tmp/.dreamcore-runs';
/** How much longer than the run's own bound the in-sandbox watchdog waits before it kills the session. */
const WATCHDOG_GRACE_S = 30;

/**
 * `sh -c RUN_SCRIPT <marker> <NAME=value>... <claude> <args>...`, with DC_P (project dir), DC_S (state dir),
 * DC_U (agent uid, 0 = unconfined), DC_N (run marker), DC_SKILLS / DC_ALL_SKILLS, DC_HARD (watchdog seconds; empty:
 * the helper's watch is the watchdog), DC_HELPER (1: run as a helper request's first step, see runTail).
 */
const RUN_SCRIPT = String.raw`
set -u
P=$DC_P; S=$DC_S; U=$DC_U; N=$DC_N; R=@RUNS@
say() { printf '@@dreamcore-%s %s\n' "$N" "$1" >&2; }
[ -d "$P" ] || { say project-missing; exit 97; }
# Every process started here is paid on each run (a start under gVisor costs more than a native one): the shell's own
# tests and expansions are used where they do, and one find walk does each ownership change with its manifest.
skills=$DC_SKILLS
if [ "$DC_ALL_SKILLS" = 1 ]; then
  skills=
  for d in @SKILLS@/*/; do [ -f "$d/SKILL.md" ] && { d=\${d%/}; skills="$skills \${d##*/}"; }; done
fi
links=
for s in $skills; do
  [ -f "@SKILLS@/$s/SKILL.md" ] || { say "skill-missing $s"; exit 98; }
  links="$links @SKILLS@/$s"
done
[ -d "$R" ] || mkdir -p -m 700 "$R" || exit 70
[ -d "$S" ] || mkdir -p "$S" || exit 70
# What a run that stopped half-way left (its manifests, a message file): gone after a day (looked for by
# one run in sixteen: the marker is random hex).
case $N in 0*) find "$R" -maxdepth 1 -type f -mmin +1440 -delete 2>/dev/null ;; esac
# The volume root and the folders of projects and state dirs 0711; every project and state dir, the asset space and
# the scratch space 0700 root. Only what is not so already is changed: a chmod changes the entry even when the mode
# stays, and every changed entry is carried by the run's volume commit (one walk, and usually no chmod started).
find @VOL@ -maxdepth 2 \( -path @VOL@ -o -path @VOL@/projects -o -path @VOL@/.agent \) -type d \( -perm 711 -o -exec chmod 711 {} + \) \
  -o \( -path '@VOL@/projects/*' -o -path '@VOL@/.agent/*' -o -path @VOL@/assets -o -path @VOL@/.tmp \) -type d ! -perm 700 -exec chmod 700 {} + 2>/dev/null
# The skills dir: root's (the agent cannot change what a later run sees), and made again only when the skills asked
# for differ from what it holds (three process starts saved on most runs).
have=
for l in "$S/skills"/* "$S/skills"/.[!.]*; do { [ -L "$l" ] || [ -e "$l" ]; } && have="$have \${l##*/}"; done
want=
for s in $skills; do want="$want $s"; done
if [ ! -d "$S/skills" ] || [ -L "$S/skills" ] || [ ! -O "$S/skills" ] || [ "$have" != "$want" ]; then
  if [ -e "$S/skills" ] || [ -L "$S/skills" ]; then rm -rf -- "$S/skills"; fi
  mkdir -- "$S/skills" || exit 70
  [ -n "$links" ] && ln -s -t "$S/skills" $links
fi
drop=
# The manifest (for the changed files) is taken in the same walk as the ownership change (which does not touch it),
# and .git's inode (to find it if the agent moves it) too.
form='%P\t%s:%T@\n'
: > "$R/$N.git"
if [ "$U" != 0 ]; then
  # The agent's own: what it made in earlier runs already is (ownership is not churned per run: a chown changes the
  # entry, and every changed entry is re-committed to the volume: the whole project on every run). What is not yet
  # is the project and state dirs themselves (root between runs) and what the backend wrote since the last run.
  find "$S" "$P" -path "$P/.git" -fprintf "$R/$N.git" '%i\n' -prune -o -path "$S/skills" -prune -o \( -user "$U" -group "$U" -o -exec chown -h "$U:$U" {} + \) \
    -path "$P/*" ! -type d -fprintf "$R/$N.before" "$form"
  drop="setpriv --reuid=$U --regid=$U --clear-groups --"
else
  find "$P" -path "$P/.git" -fprintf "$R/$N.git" '%i\n' -prune -o ! -type d -fprintf "$R/$N.before" "$form"
fi
gitino=none
[ -s "$R/$N.git" ] && read -r gitino < "$R/$N.git"
code=143
if [ ! -e "$R/$N.cancel" ]; then
  cd "$P" || exit 70
  exec 3<&0
  # after.commit's message comes from the CLI's result line, which the command helper keeps as it relays the output.
  setsid $drop env -i "ANTHROPIC_API_KEY=\${DREAMCORE_ANTHROPIC_KEY:-}" "$@" <&3 &
  pid=$!
  exec 3<&-
  echo "$pid" > "$R/$N.pid"
  [ -e "$R/$N.cancel" ] && pkill -TERM -s "$pid"
  # The watchdog: the command helper's own (a step's watch: no process started) when DC_HARD is empty.
  watchdog=
  if [ -n "$DC_HARD" ]; then
    ( trap 'kill $s 2>/dev/null; exit 0' TERM; sleep "$DC_HARD" & s=$!; wait $s; pkill -KILL -s "$pid" ) >/dev/null 2>&1 &
    watchdog=$!
  fi
  wait "$pid"; code=$?
  [ -z "$watchdog" ] || kill "$watchdog" 2>/dev/null
  # What the agent left: its session, and anything it detached into a session of its own. Confined, every process of
  # the run is the agent's uid's (setpriv drops it before the CLI starts), so one pkill by uid is both.
  if [ "$U" != 0 ]; then pkill -KILL -U "$U" 2>/dev/null; else pkill -KILL -s "$pid" 2>/dev/null; fi
  cd /
fi
# Root again: the project and state dirs (0700: no other project's agent can enter them, even one whose uid is the
# same), and .git with everything in it (the agent may have made one where there was none). The files stay the
# agent's: root reads and writes them anyway, and the next run finds them its own. .git's inode is taken in the same
# walk; when the agent moved .git, it is put back and the walk made again (a rare run pays two more processes).
after_walk() {
  : > "$R/$N.now"
  if [ "$U" != 0 ]; then
    find "$S" "$P" \( -path "$P/.git" -fprintf "$R/$N.now" '%i\n' -o -path "$S" -o -path "$P" -o -path "$P/.git/*" \) \
      \( -user 0 -group 0 -o -exec chown -h 0:0 {} + \) -o -path "$P/*" ! -type d -fprintf "$R/$N.after" "$form"
  else
    find "$P" -path "$P/.git" -fprintf "$R/$N.now" '%i\n' -prune -o ! -type d -fprintf "$R/$N.after" "$form"
  fi
  now=gone
  [ -s "$R/$N.now" ] && read -r now < "$R/$N.now"
}
after_walk
if [ "$gitino" != none ] && [ "$now" != "$gitino" ]; then
  moved=$(find "$P" -xdev -inum "$gitino" -print -quit 2>/dev/null)
  if [ -n "$moved" ]; then
    rm -rf -- "$P/.git"; mv -T -- "$moved" "$P/.git"
    after_walk
  fi
fi
# DC_HELPER=1: the command helper's request this runs in does the rest as its own steps after it (the manifests' diff
# and the files' removal, then the turn's one volume commit after the run's after-steps): no sync, sort, uniq or rm
# started here.
[ "\${DC_HELPER:-0}" = 1 ] && exit $code
sync @VOL@
printf '\n@@dreamcore-files-%s\n' "$N"
# The manifest lines in one manifest only: their paths are those whose size or time differ, or that are there before
# or after only (the backend takes each line's path, drops repeats and sorts).
LC_ALL=C sort "$R/$N.before" "$R/$N.after" | uniq -u
rm -f "$R/$N.before" "$R/$N.after" "$R/$N.pid" "$R/$N.git" "$R/$N.now"
exit $code
`
  .replace(/\\\$/g, '$')
  .replace(/@RUNS@/g, RUNS_DIR)
  .replace(/@SKILLS@/g, MOUNT.skills)
  .replace(/@VOL@/g, MOUNT.volume);

/** `sh -c KILL_SCRIPT cancel <marker>`: TERM, then KILL after 1 s, to the run's session. */
const KILL_SCRIPT = String.raw`
R=@RUNS@; N=$1
[ -d "$R" ] || mkdir -p -m 700 "$R"; : > "$R/$N.cancel"
if [ -f "$R/$N.pid" ]; then
  pid=$(cat "$R/$N.pid")
  pkill -TERM -s "$pid"
  sleep 1
  pkill -KILL -s "$pid"
fi
exit 0
`.replace(/@RUNS@/g, RUNS_DIR);

/** A uid of the project's own for its agent (10000–59999), so two projects' agents never share files. */
export function agentUid(projectId: string): number {
  return 10_000 + (Number.parseInt(projectId.replace(/-/g, '').slice(0, 8), 16) % 50_000);
}

/** The run's process, through the command helper or an exec of its own: its output, its exit, the prompt's delivery. */
interface AgentProcess {
  stdout: ReadableStream<string>;
  stderr: ReadableStream<string>;
  wait(): Promise<number>;
  /** Puts the prompt on the process's stdin (already there when it came with a helper request). */
  feed(): Promise<void>;
  /** The answers of the after-steps that ran in the same request (helper only). */
  rest?: Promise<HelperResult[]>;
}

interface ModelAccess {
  baseUrl: string;
  /** The per-run proxy token, or null when the key travels as a Modal Secret. */
  token: string | null;
  secret: Secret | null;
  release(): void;
}

export interface ModalAgent {
  runClaude(request: RunClaudeRequest): AgentRun;
  /** How the model is reached: 'proxy' (key stays here) or 'secret' (key inside the sandbox; see the module doc). */
  readonly keyMode: 'proxy' | 'secret';
  close(): Promise<void>;
}

export interface ModalAgentDeps {
  pool: SandboxPool;
  /** The SDK client, made lazily (only the Secret fallback needs it here). */
  client: () => Promise<ModalClient>;
  config: ResolvedModalConfig;
  /** The backend's own git and files: a run's `after` where it cannot be done in the run's request. */
  capabilities: { git: GitCapability; files: FilesCapability };
}

/**
 * A run's `after` as steps of the run's own helper request (after RUN_SCRIPT, which has exited 0): the message
 * (the helper's `@commit-message`: runtime-core's rule over the CLI's result line, which the helper kept as it relayed
 * the run's output), the commit (runtime-core's commitSteps as a git sequence), the reads (the files capability's
 * checked read), and the message file's removal. `answer` reads their results; it says `undefined` for a part whose
 * steps did not run (a project without a repository stops the request at `add`), which is then done the usual way.
 */
function afterSteps(scope: ProjectScope, after: NonNullable<RunClaudeRequest['after']>, messageFile: string, maxFileBytes: number) {
  const commit = after.commit ? commitSteps(['-F', messageFile]) : [];
  const sequence = after.commit ? gitSequenceSteps(scope, commit, { sync: false }) : [];
  const reads = (after.read ?? []).map((path) => normalizeRelativePath(path));
  const steps: HelperStep[] = [
    // The message and the file's removal are the helper's own steps (no process start).
    // `-`: the result line the helper kept from the run's own output (helper.ts).
    ...(after.commit ? [{ argv: ['@commit-message', after.commit.subject, '-', messageFile] }, ...sequence] : []),
    ...reads.map((path) => readStep(scope, path, maxFileBytes)),
    ...(after.commit ? [{ argv: ['@remove', messageFile], mayFail: true }] : []),
  ];
  const answer = (results: HelperResult[]): AfterRunDone => {
    const stderr = (r: HelperResult) => ({ ...r, stderr: new TextDecoder().decode(r.stderr) });
    let at = 0;
    let message: string | undefined;
    let committed: ReturnType<typeof commitOutcome> | undefined;
    if (after.commit) {
      const made = results[at++];
      if (made?.exitCode === 0) message = new TextDecoder().decode(made.stdout);
      const answered = results.slice(at, (at += sequence.length));
      if (message !== undefined && answered.length > 0) committed = commitOutcome(scope, gitSequenceResult(commit, answered.map(stderr)));
    }
    const files = reads.map((path, i) => {
      const r = results[at + i];
      return r === undefined ? undefined : readAnswerOrNull(stderr(r), path, maxFileBytes);
    });
    return { message, commit: committed ?? undefined, files };
  };
  return { steps, answer };
}

/**
 * The last steps of a run's helper request, after RUN_SCRIPT (DC_HELPER=1) and its after-steps, both `always`: they
 * run whatever became of the run. The run's changed files (the helper's `@changed`: the manifests' diff and the
 * run's files removed, no sort, uniq or rm started), then the turn's one volume commit: nothing the run wrote is
 * reported before it is durable, a failed or cancelled run's writes too.
 */
function runTail(marker: string): HelperStep[] {
  const file = (ext: string) => `${RUNS_DIR}/${marker}.${ext}`;
  return [
    { argv: ['@changed', file('before'), file('after'), file('pid'), file('git'), file('now')], always: true },
    { argv: ['sync', MOUNT.volume], always: true },
  ];
}

/** `path<TAB>size:time` (RUN_SCRIPT's manifest line): the path is everything before the last tab. */
function manifestPath(line: string): string | null {
  const tab = line.lastIndexOf('\t');
  return tab > 0 ? line.slice(0, tab) : null;
}

function readAnswerOrNull(result: { exitCode: number; stdout: Uint8Array; stderr: string }, path: string, maxFileBytes: number): string | null {
  try {
    return readAnswer(result, path, maxFileBytes);
  } catch (error) {
    return unreadable(error);
  }
}

export function createModalAgent({ pool, client, config, capabilities }: ModalAgentDeps): ModalAgent {
  const opts = config.agent;
  const { deadlines } = config;
  const execOptions = { timeoutMs: deadlines.commandMs, rpcMs: deadlines.rpcMs };
  const configured = Boolean(opts.anthropicApiKey || opts.anthropicBaseUrl || opts.keyProxy);
  const { keyMode } = config;
  if (configured && keyMode === 'secret') {
    config.log(
      'WARNING: MODAL_ALLOW_KEY_IN_SANDBOX=true and no MODAL_KEY_PROXY_URL: the provider key is placed in the ' +
        "agent's environment inside each sandbox (as a Modal Secret), where a prompt that makes the agent print its environment reveals it.",
    );
  }
  let proxy: Promise<KeyProxy> | null = null;
  let secret: Promise<Secret> | null = null;
  const live = new Set<() => void>();

  const getProxy = (): Promise<KeyProxy> => {
    if (opts.keyProxy) return Promise.resolve(opts.keyProxy);
    proxy ??= startKeyProxy({
      upstream: opts.anthropicBaseUrl ?? 'https://api.anthropic.com',
      apiKey: opts.anthropicApiKey ?? 'demo-mode-no-key',
      host: opts.keyProxyHost,
      ...(opts.keyProxyPort ? { port: opts.keyProxyPort } : {}),
    });
    proxy.catch(() => (proxy = null));
    return proxy;
  };

  async function modelAccess(timeoutMs: number, tools: RunClaudeRequest['tools']): Promise<ModelAccess> {
    if (!configured) {
      throw createError('NOT_CONFIGURED', 'no model configured: set an Anthropic API key or a model base URL (demo mode)');
    }
    if (keyMode === 'proxy') {
      const keyProxy = await getProxy();
      const token = keyProxy.issue(timeoutMs + 60_000, { tools });
      // Sandboxes reach the proxy only at its public URL (resolveModalConfig made sure there is one).
      return { baseUrl: opts.proxyPublicUrl!, token, secret: null, release: () => keyProxy.revoke(token) };
    }
    if (tools && tools.length > 0) {
      throw createError('NOT_CONFIGURED', "the agent's tools are served by the key proxy, and this backend runs without one (Modal Secret mode)");
    }
    secret ??= client().then((c) => c.secrets.fromObject({ DREAMCORE_ANTHROPIC_KEY: opts.anthropicApiKey ?? 'demo-mode-no-key' }));
    secret.catch(() => (secret = null));
    return { baseUrl: opts.anthropicBaseUrl ?? 'https://api.anthropic.com', token: null, secret: await secret, release: () => undefined };
  }

  async function execute(request: RunClaudeRequest, run: RunChannel): Promise<void> {
    const scope = validateProjectScope(request.scope);
    validateRunRequest(request);
    const timeoutMs = request.timeoutMs ?? opts.timeoutMs ?? DEFAULT_AGENT_TIMEOUT_MS;
    const access = await modelAccess(timeoutMs, request.tools);
    const marker = randomBytes(12).toString('hex');
    const projectDir = volumePath(scope);
    const stateDir = `${MOUNT.volume}/.agent/${scope.projectId}`;
    const confined = opts.isolation === 'uid';
    const { args, env } = claudeInvocation(request, {
      home: stateDir,
      configDir: stateDir,
      baseUrl: access.baseUrl,
      token: access.token ?? '',
      model: opts.model,
      permissionMode: 'bypassPermissions',
      maxRetries: opts.maxRetries,
      apiTimeoutMs: opts.apiTimeoutMs,
    });
    // The prompt goes on stdin: the SDK caps an exec's argv at 64 KiB, and a prompt may be 100 000 characters.
    const promptAt = args.indexOf('-p');
    if (promptAt < 0 || args[promptAt + 1] !== request.prompt) throw createError('INTERNAL', 'unexpected CLI invocation shape');
    args.splice(promptAt + 1, 1);
    if (access.token === null) delete env.ANTHROPIC_API_KEY; // filled in from the Secret inside the sandbox
    if (!confined) env.IS_SANDBOX = '1';
    const pairs = Object.entries(env).map(([key, value]) => `${key}=${value}`);
    const argv = ['sh', '-c', RUN_SCRIPT, `dreamcore-run-${marker}`, ...pairs, opts.claudePath, ...args];
    const hardS = Math.ceil(timeoutMs / 1000) + WATCHDOG_GRACE_S;
    const execEnv = {
      DC_P: projectDir,
      DC_S: stateDir,
      DC_U: String(confined ? agentUid(scope.projectId) : 0),
      DC_N: marker,
      DC_SKILLS: (request.skills ?? []).join(' '),
      DC_ALL_SKILLS: request.skills === undefined ? '1' : '0',
      DC_HARD: String(hardS),
    };

    let ending: 'timeout' | 'cancelled' | undefined;
    let sandbox: Sandbox | undefined;
    let proc: AgentProcess | undefined;
    const runBoundMs = timeoutMs + (WATCHDOG_GRACE_S + 30) * 1000;
    const stop = (why: 'timeout' | 'cancelled') => {
      if (ending) return;
      ending = why;
      if (sandbox) {
        const target = sandbox;
        execText(target, ['sh', '-c', KILL_SCRIPT, 'dreamcore-cancel', marker], execOptions).catch(() => undefined);
      }
    };
    const timer = setTimeout(() => stop('timeout'), timeoutMs);
    const onAbort = () => stop('cancelled');
    if (request.signal?.aborted) onAbort();
    request.signal?.addEventListener('abort', onAbort, { once: true });
    live.add(onAbort);

    const changed: string[] = [];
    /** The after-steps' answers, when they rode on the run's helper request. */
    let afterAnswers: HelperResult[] | undefined;
    // `after` rides on the run's own helper request (see afterSteps); whatever did not run there is done here.
    const plan = request.after ? afterSteps(scope, request.after, `${RUNS_DIR}/${marker}.msg`, config.maxFileBytes) : null;
    const translator = new StreamJsonTranslator(run, {
      filesChanged: async () => [...new Set(changed)].sort(),
      after: async (resultLine) => {
        if (!request.after || !plan) return undefined;
        const done = afterAnswers ? plan.answer(afterAnswers) : {};
        return afterRunWith(capabilities, scope, request.after, resultLine, done);
      },
    });
    try {
      if (ending) {
        await translator.finish({ exitCode: null, reason: ending });
        return;
      }
      [sandbox, proc] = await pool.use(scope.userId, 'runClaude', async (sb): Promise<readonly [Sandbox, AgentProcess]> => {
        // Through the sandbox's command helper: the prompt travels with the request, one round trip and no process
        // start. A Modal Secret can only be given to an exec, so the Secret mode (and a sandbox without a helper) execs.
        const helper = access.secret ? undefined : helperOf(sb);
        const streamed = helper
          ? await helper.spawn(
              {
                argv,
                // The helper's watch is the watchdog (no process started for it): the CLI's session is killed at
                // the bound, the script goes on to give the project back to root.
                env: { ...execEnv, DC_HARD: '', DC_HELPER: '1' },
                watch: { pidFile: `${RUNS_DIR}/${marker}.pid`, afterMs: hardS * 1000 },
              },
              new TextEncoder().encode(request.prompt),
              runBoundMs,
              [...(plan?.steps ?? []), ...runTail(marker)],
            )
          : null;
        if (streamed) {
          // Bounded like an exec's start: Modal not answering is NETWORK_ERROR, not a wait for the whole run's bound.
          await withDeadline(deadlines.rpcMs, 'starting the agent', () => streamed.sent);
          return [sb, { ...streamed, feed: () => Promise.resolve(), rest: streamed.rest }] as const;
        }
        const p = await withDeadline(deadlines.rpcMs, 'starting the agent', () =>
          sb.exec(argv, {
            mode: 'text',
            stdout: 'pipe',
            stderr: 'pipe',
            env: execEnv,
            ...(access.secret ? { secrets: [access.secret] } : {}),
          }),
        );
        const feed = async () => {
          const stdin = p.stdin.getWriter();
          await stdin.write(request.prompt);
          await stdin.close();
        };
        return [sb, { stdout: p.stdout, stderr: p.stderr, wait: () => p.wait(), feed }] as const;
      });
      // A cancel or timeout that came while the exec was starting reaches it now.
      if (ending) execText(sandbox, ['sh', '-c', KILL_SCRIPT, 'dreamcore-cancel', marker], execOptions).catch(() => undefined);

      const fileMarker = `@@dreamcore-files-${marker}`;
      const errorMarker = `@@dreamcore-${marker} `;
      let inFiles = false;
      const onLine = (line: string) => {
        if (inFiles) {
          const path = manifestPath(line);
          if (path !== null) changed.push(path);
        } else if (line === fileMarker) {
          inFiles = true;
        } else {
          translator.line(line);
        }
      };
      let problem: string | null = null;
      const feeding = proc.feed();
      const running = proc;
      // The in-sandbox watchdog ends the CLI at its bound + WATCHDOG_GRACE_S; if Modal stops answering, this is
      // the bound on waiting for it.
      const [, , exitCode] = await withDeadline(runBoundMs, 'the agent run', () =>
        Promise.all([
          readLines(running.stdout, onLine),
          readLines(running.stderr, (line) => {
            if (line.startsWith(errorMarker)) problem = line.slice(errorMarker.length);
            else translator.stderr(`${line}\n`);
          }),
          running.wait(),
          feeding.catch(() => undefined),
        ]),
      );
      const reported = problem as string | null;
      if (reported === 'project-missing') throw createError('NOT_FOUND', 'project not found', { details: { ...scope } });
      if (reported?.startsWith('skill-missing ')) {
        const skill = reported.slice('skill-missing '.length);
        throw createError('NOT_FOUND', `skill ${skill} is not installed`, { details: { skill } });
      }
      // Killed without us asking: was it the sandbox that went?
      if (exitCode >= 128 && !ending && !(await sandboxIsRunning(sandbox, deadlines.rpcMs))) throw new SandboxGoneError('the sandbox ended during the run');
      if (running.rest) {
        // The request's answer came whole with the run's exit: the after-steps' answers, then runTail's two.
        const answered = await running.rest;
        const [diffed, synced] = answered.slice(-2);
        afterAnswers = answered.slice(0, -2);
        for (const line of new TextDecoder().decode(diffed?.stdout).split('\n')) {
          const path = manifestPath(line);
          if (path !== null) changed.push(path);
        }
        // A run that succeeded is not reported before its writes are durable (a failed or cancelled one keeps its code).
        if (synced?.exitCode !== 0 && exitCode === 0 && !ending) {
          const why = synced ? new TextDecoder().decode(synced.stderr).trim().slice(0, 300) : 'no answer';
          throw createError('INTERNAL', `the volume could not be synced: ${why}`);
        }
      }
      await translator.finish({ exitCode, signal: null, reason: ending });
    } catch (error) {
      if (isSandboxGone(error)) {
        if (sandbox) pool.forget(scope.userId, sandbox);
        throw sandboxError(error, 'the agent run');
      }
      if (isBackendError(error)) throw error;
      // The stream broke: the sandbox's own state says whether it died under the run or Modal failed.
      if (sandbox && !(await sandboxIsRunning(sandbox, deadlines.rpcMs).catch(() => true))) {
        pool.forget(scope.userId, sandbox);
        throw sandboxError(error, 'the agent run');
      }
      throw modalFailure(error, 'the agent run');
    } finally {
      clearTimeout(timer);
      request.signal?.removeEventListener('abort', onAbort);
      live.delete(onAbort);
      access.release(); // the token dies with the run
    }
  }

  return {
    keyMode,
    runClaude: (request) => startRun(request, validateAgentRequest, execute),
    async close() {
      for (const cancel of [...live]) cancel();
      if (proxy) await (await proxy.catch(() => null))?.close();
    },
  };
}
