/**
 * The conformance suite: the definition of "behaves identically" for ExecutionBackend implementations.
 *
 *   import { runConformanceSuite } from '@dreamcore/runtime-core/conformance';
 *   runConformanceSuite({ name: 'mine', factory: () => createMyBackend() });
 *
 * Call it from a vitest test file. Cases sit under `conformance: <name>`, one block per capability; cases for
 * a capability the backend declares unsupported are skipped, and that backend must fail them with UNSUPPORTED.
 *
 * A slow backend may spread its suite over several test files, which vitest runs in parallel, with `parts`:
 *
 *   runConformanceSuite({ ...options, parts: ['files', 'git', 'isolation'] });     // conformance-storage.test.ts
 *   runConformanceSuite({ ...options, parts: otherParts(['files', 'git', 'isolation']) }); // the rest, elsewhere
 *
 * The case names stay the same, so the parity rule (the same passing names on every backend) reads across files.
 */
import { describe } from 'vitest';
import { agentCases } from './agent.js';
import { gameCheckCases } from './game-check.js';
import type { ConformanceOptions, ConformancePart } from './context.js';
import { filesCases } from './files.js';
import { gitCases } from './git.js';
import { isolationCases } from './isolation.js';
import { imageCases } from './image.js';
import { videoCases } from './video.js';

/** The suite's blocks, in the order they run. */
const PARTS: Record<ConformancePart, (options: ConformanceOptions) => void> = {
  files: filesCases,
  git: gitCases,
  isolation: isolationCases,
  runClaude: agentCases,
  generateImage: imageCases,
  renderVideo: videoCases,
  checkGame: gameCheckCases,
};

export const CONFORMANCE_PARTS = Object.keys(PARTS) as ConformancePart[];

/** Every part but `parts`: the other file's share when a suite is split in two, complete by construction. */
export function otherParts(parts: readonly ConformancePart[]): ConformancePart[] {
  return CONFORMANCE_PARTS.filter((part) => !parts.includes(part));
}

export function runConformanceSuite(options: ConformanceOptions): void {
  const chosen = options.parts ?? CONFORMANCE_PARTS;
  const unknown = chosen.filter((part) => !CONFORMANCE_PARTS.includes(part));
  if (unknown.length > 0) throw new Error(`conformance: unknown parts ${unknown.join(', ')} (known: ${CONFORMANCE_PARTS.join(', ')})`);
  describe(`conformance: ${options.name}`, () => {
    for (const part of CONFORMANCE_PARTS) if (chosen.includes(part)) PARTS[part](options);
  });
}

export type { ConformanceHarness, ConformanceOptions, ConformancePart, SymlinkTarget } from './context.js';
export { hostilePaths, hostileScopes } from './isolation.js';
export { expectCode, snapshot, bytesOf, sha256 } from './context.js';
export { CONFORMANCE_GAME } from './video.js';
