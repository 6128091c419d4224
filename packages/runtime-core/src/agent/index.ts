export * from './cli.js';
export * from './key-proxy.js';
export * from './stream-json.js';
