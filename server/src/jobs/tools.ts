/**
 * The tools a generation offers the agent (served to it over MCP on the backend's key proxy, see runtime-core's
 * RunClaudeRequest.tools). Their handlers run here, in the server, for the job's user only:
 *
 * - `generate_image`: a sprite or background through the backend's generateImage, stored as the user's asset; the
 *   job hears of it (`imagesGenerated`), its cost is counted, and a job makes at most `maxImages`.
 * - `suggest_next_steps`: three short follow-ups the user might ask for next, shown as chips after the turn.
 */
import { isBackendError, isImageStyle, type AgentTool } from '@dreamcore/runtime-core';

/** What the Gemini image model costs per image (USD), counted in the job's cost. */
export const IMAGE_COST_USD = 0.039;
const MAX_SUGGESTIONS = 3;
const MAX_SUGGESTION_CHARS = 60;

export interface GeneratedImage {
  alias: string;
  url: string;
}

export interface JobToolState {
  images: GeneratedImage[];
  suggestions: string[];
}

export interface JobToolDeps {
  /** Makes the image and lists it as the user's asset; answers its alias and public URL. */
  generateImage(request: { prompt: string; style?: string; width?: number; height?: number; signal: AbortSignal }): Promise<GeneratedImage>;
  /** Told after each image (the job emits `imagesGenerated`). */
  onImage(image: GeneratedImage): void;
  maxImages: number;
}

function text(value: unknown, max: number): string {
  return typeof value === 'string' ? value.trim().slice(0, max) : '';
}

function size(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 64 && value <= 1024 ? value : undefined;
}

export function createJobTools(deps: JobToolDeps): { tools: AgentTool[]; state: JobToolState } {
  const state: JobToolState = { images: [], suggestions: [] };
  let started = 0;
  const generateImage: AgentTool = {
    name: 'generate_image',
    description:
      "Makes one image (a sprite, an item, a background) for the game and stores it as the user's asset. Answers with the URL to use in the game. Describe ONE subject; the background is transparent unless you ask for a background. " +
      `At most ${deps.maxImages} images per turn; each takes several seconds.`,
    inputSchema: {
      type: 'object',
      properties: {
        prompt: { type: 'string', description: 'What to draw, e.g. "a small red dragon, side view, facing right"' },
        style: { type: 'string', enum: ['pixel', 'anime', 'kawaii', 'realistic', 'watercolor', 'flat'] },
        width: { type: 'integer', minimum: 64, maximum: 1024, description: 'pixels (default 512)' },
        height: { type: 'integer', minimum: 64, maximum: 1024, description: 'pixels (default 512)' },
      },
      required: ['prompt'],
      additionalProperties: false,
    },
    async handler(input, call) {
      const prompt = text(input.prompt, 1000);
      if (!prompt) return { text: 'prompt is required: describe the image in a few words.', isError: true };
      // Counted when started, so parallel calls cannot pass the limit together.
      if (started >= deps.maxImages) {
        return { text: `The image limit for this turn (${deps.maxImages}) is reached: reuse an image you made, or draw with shapes.`, isError: true };
      }
      started++;
      try {
        const image = await deps.generateImage({
          prompt,
          style: isImageStyle(input.style) ? input.style : undefined,
          width: size(input.width),
          height: size(input.height),
          signal: call.signal,
        });
        state.images.push(image);
        deps.onImage(image);
        return `Made ${image.alias}. Use it in the game at exactly this URL: ${image.url}`;
      } catch (error) {
        return { text: `The image could not be made (${isBackendError(error) ? error.code : 'error'}): draw this with shapes instead.`, isError: true };
      }
    },
  };
  const suggest: AgentTool = {
    name: 'suggest_next_steps',
    description: "Call once at the end of every turn with three short ideas the user might ask for next (in the user's language, at most 40 characters each).",
    inputSchema: {
      type: 'object',
      properties: { suggestions: { type: 'array', items: { type: 'string' }, minItems: 1, maxItems: MAX_SUGGESTIONS } },
      required: ['suggestions'],
      additionalProperties: false,
    },
    async handler(input) {
      const list = Array.isArray(input.suggestions) ? input.suggestions.map((s) => text(s, MAX_SUGGESTION_CHARS)).filter((s) => s !== '') : [];
      if (list.length === 0) return { text: 'suggestions is a list of short strings.', isError: true };
      state.suggestions = [...new Set(list)].slice(0, MAX_SUGGESTIONS);
      return 'Noted: the user will see these as buttons.';
    },
  };
  return { tools: [generateImage, suggest], state };
}
