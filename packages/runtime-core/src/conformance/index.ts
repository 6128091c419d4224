/**
 * The conformance suite: the definition of "behaves identically" for ExecutionBackend implementations.
 *
 *   import { runConformanceSuite } from '@dreamcore/runtime-core/conformance';
 *   runConformanceSuite({ name: 'mine', factory: () => createMyBackend() });
 *
 * Call it from a vitest test file. Cases sit under `conformance: <name>`, one block per capability; cases for
 * a capability the backend declares unsupported are skipped, and that backend must fail them with UNSUPPORTED.
 */
import { describe } from 'vitest';
import { agentCases } from './agent.js';
import { gameCheckCases } from './game-check.js';
import type { ConformanceOptions } from './context.js';
import { filesCases } from './files.js';
import { gitCases } from './git.js';
import { isolationCases } from './isolation.js';
import { imageCases } from './image.js';
import { videoCases } from './video.js';

export function runConformanceSuite(options: ConformanceOptions): void {
  describe(`conformance: ${options.name}`, () => {
    filesCases(options);
    gitCases(options);
    isolationCases(options);
    agentCases(options);
    imageCases(options);
    videoCases(options);
    gameCheckCases(options);
  });
}

export type { ConformanceHarness, ConformanceOptions, SymlinkTarget } from './context.js';
export { hostilePaths, hostileScopes } from './isolation.js';
export { expectCode, snapshot, bytesOf, sha256 } from './context.js';
export { CONFORMANCE_GAME } from './video.js';
