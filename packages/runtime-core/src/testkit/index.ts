/**
 * Local stand-ins that speak real protocols (the scripted Anthropic model, the fake Gemini endpoint), a realistic
 * migration data set, the in-memory reference backend, and a check that objects share a V8 hidden class.
 */
export * from './model-server.js';
export * from './fake-gemini.js';
export * from './migration-data.js';
export * from './memory-backend.js';
export * from './hidden-class.js';
