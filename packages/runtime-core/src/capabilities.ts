import type { Capabilities } from './contract.js';

/** 25 MiB: larger than any game file, image or promo video DreamCore writes, small enough to hold in memory. */
export const DEFAULT_MAX_FILE_BYTES = 25 * 1024 * 1024;

/** A manifest with every capability off; backends spread their own support over it. */
export function capabilities(overrides: Partial<Capabilities> = {}): Capabilities {
  return {
    files: { supported: false, maxFileBytes: DEFAULT_MAX_FILE_BYTES, symlinks: false },
    git: { supported: false },
    runClaude: { supported: false },
    generateImage: { supported: false },
    renderVideo: { supported: false },
    checkGame: { supported: false },
    ...overrides,
  };
}
