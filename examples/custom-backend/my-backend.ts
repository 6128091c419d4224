/**
 * A minimal third-party backend: it keeps files (by delegating to the local backend's files) and declares every
 * other capability unsupported. The conformance suite runs the files and isolation cases on it, skips the rest,
 * and checks that the unsupported ones fail with UNSUPPORTED.
 */
import { createLocalBackend } from '@dreamcore/backend-local';
import { capabilities, unsupportedCall, unsupportedGit, unsupportedRun, type ExecutionBackend } from '@dreamcore/runtime-core';

export function createMyBackend(dataDir: string): ExecutionBackend {
  const local = createLocalBackend({ dataDir });
  const name = 'my-files-only';
  return {
    name,
    capabilities: capabilities({ files: local.capabilities.files }),
    files: local.files,
    git: unsupportedGit(name),
    runClaude: () => unsupportedRun(name),
    generateImage: () => unsupportedCall('generateImage', name),
    renderVideo: () => unsupportedCall('renderVideo', name),
    checkGame: () => unsupportedCall('checkGame', name),
    prewarm: local.prewarm,
    close: local.close,
  };
}
