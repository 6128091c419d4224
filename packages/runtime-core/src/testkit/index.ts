/**
 * Local stand-ins that speak real protocols (the scripted Anthropic model, the fake Gemini endpoint, ...).
 * Filled in by the agent and media work; see DESIGN.md "Verification".
 */
export {};
export * from './model-server.js';
export * from './demo-games.js';
export * from './fake-gemini.js';
export * from './migration-data.js';
