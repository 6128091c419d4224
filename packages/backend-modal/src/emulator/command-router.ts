/**
 * `modal.task_command_router.TaskCommandRouter`: the per-task service V2 sandboxes are driven through (exec, exec
 * stdio by offset, exec wait, stdin, sandbox-level stdio). Every call carries `authorization: Bearer <jwt>` from
 * SandboxCreateV2 / SandboxGetCommandRouterAccess, and the JWT must have been minted for the task it names.
 */
import { ServerError, Status, type CallContext } from 'nice-grpc';
import { metadataString, resolveSecretSources } from './control-plane.js';
import type { EmulatorCore } from './core.js';
import { StdinClosedError, type ExecProcess } from './exec.js';
import type { EmulatedSandbox } from './sandbox.js';
import { delay, modalError } from './util.js';

/** TaskExecStdoutConfig / TaskExecStderrConfig: 0 = /dev/null, 1 = pipe. */
const STDIO_PIPE = 1;
/** TaskExecStdioFileDescriptor and SandboxStdioFileDescriptor: 0 = stdout, 1 = stderr. */
const FD_STDERR = 1;

type Handler = (request: never, context: CallContext) => unknown;

interface SecretSource {
  secretId?: string;
  env?: { contents: Record<string, string> };
}

export function commandRouterService(core: EmulatorCore): Record<string, Handler> {
  const sandboxFor = (context: CallContext, taskId: string): EmulatedSandbox => core.sandboxForRouterToken(metadataString(context, 'authorization'), taskId);

  const execFor = (context: CallContext, taskId: string, execId: string): ExecProcess => {
    const sandbox = sandboxFor(context, taskId);
    const exec = sandbox.execs.get(execId);
    if (!exec) throw modalError(Status.NOT_FOUND, `Exec ${execId} not found in task ${taskId}`, `Unknown exec id ${execId}`, `No such process: ${execId}`);
    sandbox.touch();
    return exec;
  };

  const writeStdin = (exec: ExecProcess, offset: number, data: Uint8Array, eof: boolean): void => {
    try {
      exec.writeStdin(offset, data, eof);
    } catch (error) {
      if (error instanceof StdinClosedError) throw new ServerError(Status.FAILED_PRECONDITION, error.message);
      throw error;
    }
  };

  return {
    async taskExecStart(
      request: {
        taskId: string;
        execId: string;
        commandArgs: string[];
        stdoutConfig: number;
        stderrConfig: number;
        timeoutSecs?: number;
        workdir?: string;
        secretIds: string[];
        env: Record<string, string>;
        secretSources: SecretSource[];
      },
      context: CallContext,
    ) {
      const sandbox = sandboxFor(context, request.taskId);
      if (!sandbox.running) {
        throw modalError(
          Status.NOT_FOUND,
          `Sandbox ${sandbox.id} has already finished`,
          `Task ${request.taskId} is no longer running`,
          `container for ${sandbox.id} exited`,
          'the requested task has stopped',
        );
      }
      if (request.commandArgs.length === 0) throw new ServerError(Status.INVALID_ARGUMENT, 'Empty command');
      // Modelled costs: the container still starting (cold start), then the process start itself.
      if (sandbox.readyAt > Date.now()) await delay(sandbox.readyAt - Date.now(), context.signal);
      if (core.options.latency.execMs > 0) await delay(core.options.latency.execMs, context.signal);
      const env: Record<string, string> = {};
      for (const secretId of request.secretIds) Object.assign(env, core.secretEnv(secretId));
      Object.assign(env, request.env, resolveSecretSources(core, request.secretSources));
      sandbox.exec({
        execId: request.execId,
        argv: request.commandArgs,
        workdir: request.workdir || undefined,
        env,
        pipeStdout: request.stdoutConfig === STDIO_PIPE,
        pipeStderr: request.stderrConfig === STDIO_PIPE,
        timeoutSecs: request.timeoutSecs,
      });
      return {};
    },

    async *taskExecStdioRead(request: { taskId: string; execId: string; offset: number; fileDescriptor: number }, context: CallContext) {
      const exec = execFor(context, request.taskId, request.execId);
      const buffer = request.fileDescriptor === FD_STDERR ? exec.stderr : exec.stdout;
      for await (const chunk of buffer.read(Number(request.offset), context.signal)) yield { data: chunk.data };
    },

    async taskExecWait(request: { taskId: string; execId: string }, context: CallContext) {
      const exec = execFor(context, request.taskId, request.execId);
      const status = exec.status ?? (await waitOrAbort(exec.exited, context.signal));
      if (!status) throw new ServerError(Status.CANCELLED, 'Wait cancelled');
      return status;
    },

    async taskExecPoll(request: { taskId: string; execId: string }, context: CallContext) {
      return execFor(context, request.taskId, request.execId).status ?? {};
    },

    async taskExecStdinWrite(request: { taskId: string; execId: string; offset: number; data: Uint8Array; eof: boolean }, context: CallContext) {
      writeStdin(execFor(context, request.taskId, request.execId), Number(request.offset), request.data, request.eof);
      return {};
    },

    async taskExecStdinWriteStream(
      requests: AsyncIterable<{
        start?: { taskId: string; execId: string; offset: number };
        data?: Uint8Array;
        end?: object;
      }>,
      context: CallContext,
    ) {
      let exec: ExecProcess | undefined;
      let offset = 0;
      for await (const message of requests) {
        if (message.start) {
          exec = execFor(context, message.start.taskId, message.start.execId);
          offset = Number(message.start.offset);
          continue;
        }
        if (!exec) throw new ServerError(Status.INVALID_ARGUMENT, 'The first message must be `start`');
        if (message.data) {
          writeStdin(exec, offset, message.data, false);
          offset += message.data.length;
        }
        if (message.end) {
          writeStdin(exec, offset, new Uint8Array(0), true);
          break;
        }
      }
      return {};
    },

    async taskExecStdinStatus(request: { taskId: string; execId: string }, context: CallContext) {
      const exec = execFor(context, request.taskId, request.execId);
      return { numBytesWritten: exec.stdinBytesWritten, closed: exec.stdinClosed };
    },

    async *sandboxStdioReadV2(request: { taskId: string; offset: number; fileDescriptor: number }, context: CallContext) {
      const sandbox = sandboxFor(context, request.taskId);
      sandbox.touch();
      const buffer = request.fileDescriptor === FD_STDERR ? sandbox.stderr : sandbox.stdout;
      for await (const chunk of buffer.read(Number(request.offset), context.signal)) {
        yield { data: chunk.data, startingOffset: chunk.offset };
      }
    },

    async sandboxStdinWriteV2(request: { taskId: string; offset: number; data: Uint8Array; eof: boolean }, context: CallContext) {
      const sandbox = sandboxFor(context, request.taskId);
      try {
        sandbox.writeStdin(Number(request.offset), request.data, request.eof);
      } catch (error) {
        throw new ServerError(Status.FAILED_PRECONDITION, (error as Error).message);
      }
      return {};
    },

    // No readiness probes: a started sandbox is ready.
    async sandboxWaitUntilReady(request: { taskId: string }, context: CallContext) {
      return { readyAt: sandboxFor(context, request.taskId).createdAt };
    },

    // Each volume's view commits its own changes and catches up with what other sandboxes committed.
    async taskReloadVolumes(request: { taskId: string }, context: CallContext) {
      const sandbox = sandboxFor(context, request.taskId);
      if (!sandbox.running)
        throw modalError(Status.NOT_FOUND, `Sandbox ${sandbox.id} is not running`, `Task ${request.taskId} has stopped`, 'no live container for this task');
      await sandbox.reloadVolumes();
      return {};
    },
  };
}

/**
 * Holds a TaskExecWait open until the exec ends, however long: the SDK gives each attempt 60 s and retries a
 * DEADLINE_EXCEEDED forever, while an empty answer would be an error to it. Stops when the client goes away.
 */
async function waitOrAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) return undefined;
  let onAbort: () => void = () => undefined;
  const aborted = new Promise<undefined>((resolve) => {
    onAbort = () => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([promise, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
