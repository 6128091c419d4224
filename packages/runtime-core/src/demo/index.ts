/**
 * Demo mode (`npm start` without an ANTHROPIC_API_KEY): the script the built-in scripted model runs, and the games it
 * writes. Product code, not a test stand-in: what a first-time user plays with.
 */
export * from './games.js';
export * from './script.js';
