/**
 * The heavy SDKs, loaded on first use. Importing playwright-core, @remotion/renderer and @google/genai costs about a
 * second of CPU together, and every server boot (and every test file that starts one) paid it at import time even
 * though most processes never check a game, render a video or call Gemini. Each loader is memoised: the module
 * loads once per process, on the first call that needs it.
 */
let playwright: Promise<typeof import('playwright-core')> | undefined;
let remotion: Promise<typeof import('@remotion/renderer')> | undefined;
let genai: Promise<typeof import('@google/genai')> | undefined;

export const loadPlaywright = () => (playwright ??= import('playwright-core'));
export const loadRemotion = () => (remotion ??= import('@remotion/renderer'));
export const loadGenAI = () => (genai ??= import('@google/genai'));
