export * from './cli.js';
export * from './key-proxy.js';
export * from './stream-json.js';
export * from './instructions.js';
export * from './skills.js';
export { agentToolName, validateTools } from './tool-server.js';
export * from './publish-info.js';
export * from './after-run.js';
