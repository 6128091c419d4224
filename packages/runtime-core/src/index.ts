export type * from './contract.js';
export * from './errors.js';
export * from './events.js';
export * from './scope.js';
export * from './concurrency.js';
export * from './unsupported.js';
export * from './git-ops.js';
export * from './capabilities.js';
export * from './agent/index.js';
