/**
 * Local stand-ins that speak real protocols (the scripted Anthropic model, the fake Gemini endpoint), a realistic
 * migration data set, and the in-memory reference backend.
 */
export * from './model-server.js';
export * from './fake-gemini.js';
export * from './migration-data.js';
export * from './memory-backend.js';
