/**
 * Stand-ins for capabilities a backend declares unsupported: every call fails with the typed UNSUPPORTED error,
 * which is what the conformance suite expects of such a backend.
 */
import { unsupported } from './errors.js';
import { failedRun } from './events.js';
import type { AgentRun, FilesCapability, GitCapability } from './contract.js';

function rejecting<T extends object>(capability: string, backendName: string, methods: (keyof T)[]): T {
  const entries = methods.map((method) => [method, async () => Promise.reject(unsupported(capability, backendName))]);
  return Object.fromEntries(entries) as T;
}

export function unsupportedFiles(backendName: string): FilesCapability {
  return rejecting<FilesCapability>('files', backendName, [
    'read',
    'readText',
    'write',
    'delete',
    'list',
    'exists',
    'stat',
    'listProjects',
    'deleteProject',
    'listUsers',
  ]);
}

export function unsupportedGit(backendName: string): GitCapability {
  return rejecting<GitCapability>('git', backendName, [
    'init',
    'commit',
    'log',
    'diff',
    'listAt',
    'readAt',
    'restore',
    'verify',
    'exportBundle',
    'importBundle',
  ]);
}

export function unsupportedRun(backendName: string): AgentRun {
  return failedRun(unsupported('runClaude', backendName));
}

export async function unsupportedCall(capability: string, backendName: string): Promise<never> {
  throw unsupported(capability, backendName);
}
