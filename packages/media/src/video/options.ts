/**
 * Request validation, defaults and the promo's timeline. Pure functions: everything that decides *what* gets
 * rendered lives here, so the capture and the composition agree on frame counts by construction.
 */
import { createError, type RenderVideoRequest } from '@dreamcore/runtime-core';

/** What a render is asked for: the contract's request without the scope (the caller has found the folder). */
export type VideoSettings = Omit<RenderVideoRequest, 'scope'>;

/** DreamCore V2's promo: 7 s, 30 fps, 1080×1920 portrait. */
export const VIDEO_DEFAULTS = { width: 1080, height: 1920, fps: 30, durationSeconds: 7 } as const;

export const VIDEO_LIMITS = {
  minSide: 64,
  maxSide: 3840,
  maxPixels: 3840 * 2160,
  minFps: 1,
  maxFps: 60,
  minDurationSeconds: 1,
  maxDurationSeconds: 60,
  maxTitleLength: 120,
} as const;

/** Gameplay is captured at this rate at most and each captured frame is held; halves capture and image loads at 30 fps. */
export const MAX_CAPTURE_FPS = 15;

/**
 * The composition is rendered at the lowest whole fraction of the output rate that is still at least this, and the
 * encoder repeats each rendered frame up to the output rate (30 fps → 15 rendered, each shown twice). Remotion's cost
 * is mostly fixed per rendered frame (measured: a quarter of the pixels saves only a quarter of the time), and the
 * gameplay is captured at 15 fps anyway, so this halves the render while the gameplay loses nothing.
 */
export const MIN_COMPOSE_FPS = 15;

/** The capture viewport's longer side, at most: larger outputs scale the frames up instead of capturing more pixels. */
export const MAX_CAPTURE_SIDE = 1280;

export interface PlanOptions {
  /** Render the composition at the full output rate instead of a fraction of it (slower, smoother cards). */
  fullRateComposition?: boolean;
  /** Highest rate gameplay is captured at (default MAX_CAPTURE_FPS). */
  maxCaptureFps?: number;
  /** Longest side of the capture viewport (default MAX_CAPTURE_SIDE); capture cost is roughly proportional to pixels. */
  maxCaptureSide?: number;
}

export interface VideoPlan {
  width: number;
  height: number;
  /** The MP4's rate and frame count. */
  fps: number;
  totalFrames: number;
  durationSeconds: number;
  /** Explicit title from the request, if any (otherwise PUBLISH.json or the page title decides). */
  title: string | null;
  /** The composition's own rate and frames; each composition frame fills `repeat` output frames. */
  composeFps: number;
  composeFrames: number;
  repeat: number;
  /** Sections of the composition, in composition frames. */
  titleFrames: number;
  gameplayFrames: number;
  endFrames: number;
  /** Cross-fade from the title card into gameplay, taken from the title card's end. */
  fadeFrames: number;
  captureFps: number;
  /** Unique gameplay frames captured from the game. */
  captureFrames: number;
  captureWidth: number;
  captureHeight: number;
  /** The composition frame that becomes thumbnail.webp: the title card, fully in, over gameplay. */
  thumbnailFrame: number;
}

function invalid(field: string, message: string, value: unknown): never {
  throw createError('INVALID_ARGUMENT', `${field} ${message}`, {
    details: { field, value: typeof value === 'number' || typeof value === 'string' ? value : typeof value },
  });
}

function integerIn(field: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value)) invalid(field, 'must be an integer', value);
  if (value < min || value > max) invalid(field, `must be between ${min} and ${max}`, value);
  return value;
}

export function planVideo(request: VideoSettings, planOptions: PlanOptions = {}): VideoPlan {
  if (typeof request !== 'object' || request === null) invalid('request', 'must be an object', request);
  const L = VIDEO_LIMITS;
  const width = integerIn('width', request.width, VIDEO_DEFAULTS.width, L.minSide, L.maxSide);
  const height = integerIn('height', request.height, VIDEO_DEFAULTS.height, L.minSide, L.maxSide);
  // H.264 in yuv420p needs even dimensions; refusing beats silently rendering a size nobody asked for.
  if (width % 2 !== 0) invalid('width', 'must be even (H.264 4:2:0)', width);
  if (height % 2 !== 0) invalid('height', 'must be even (H.264 4:2:0)', height);
  if (width * height > L.maxPixels) invalid('width×height', `must be at most ${L.maxPixels} pixels`, width * height);
  const fps = integerIn('fps', request.fps, VIDEO_DEFAULTS.fps, L.minFps, L.maxFps);

  const durationSeconds = request.durationSeconds ?? VIDEO_DEFAULTS.durationSeconds;
  if (typeof durationSeconds !== 'number' || !Number.isFinite(durationSeconds)) {
    invalid('durationSeconds', 'must be a finite number', durationSeconds);
  }
  if (durationSeconds < L.minDurationSeconds || durationSeconds > L.maxDurationSeconds) {
    invalid('durationSeconds', `must be between ${L.minDurationSeconds} and ${L.maxDurationSeconds}`, durationSeconds);
  }

  let title: string | null = null;
  if (request.title !== undefined) {
    if (typeof request.title !== 'string') invalid('title', 'must be a string', request.title);
    title = cleanTitle(request.title);
    if (title.length > L.maxTitleLength) invalid('title', `must be at most ${L.maxTitleLength} characters`, title.length);
    if (title === '') title = null;
  }
  if (request.onProgress !== undefined && typeof request.onProgress !== 'function') {
    invalid('onProgress', 'must be a function', request.onProgress);
  }

  const totalFrames = Math.round(durationSeconds * fps);
  let repeat = 1;
  if (!planOptions.fullRateComposition) {
    for (let k = 2; fps / k >= MIN_COMPOSE_FPS; k++) if (fps % k === 0) repeat = k;
  }
  const composeFps = fps / repeat;
  const composeFrames = Math.ceil(totalFrames / repeat);
  // Cards take 20% of the video each, at most 1.5 s: a 7 s promo is 1.4 s title, 4.2 s gameplay, 1.4 s end.
  // (A video only a few frames long gets no cards rather than no gameplay.)
  const cardFrames = Math.min(Math.max(1, Math.round(Math.min(1.5, durationSeconds * 0.2) * composeFps)), Math.floor(composeFrames / 4));
  const gameplayFrames = composeFrames - 2 * cardFrames;
  const captureFps = Math.min(composeFps, planOptions.maxCaptureFps ?? MAX_CAPTURE_FPS);
  const captureFrames = Math.max(1, Math.ceil((gameplayFrames * captureFps) / composeFps));

  const fadeFrames = Math.min(Math.round(composeFps / 5), Math.floor(cardFrames / 3));
  const scale = Math.min(1, (planOptions.maxCaptureSide ?? MAX_CAPTURE_SIDE) / Math.max(width, height));
  const even = (n: number) => Math.max(2, 2 * Math.round(n / 2));
  return {
    width,
    height,
    fps,
    totalFrames,
    durationSeconds,
    title,
    composeFps,
    composeFrames,
    repeat,
    titleFrames: cardFrames,
    gameplayFrames,
    endFrames: cardFrames,
    fadeFrames,
    captureFps,
    captureFrames,
    captureWidth: even(width * scale),
    captureHeight: even(height * scale),
    thumbnailFrame: Math.max(0, Math.min(cardFrames - fadeFrames - 1, Math.round(composeFps * 0.8))),
  };
}

/** One line, no control characters, trimmed: the title is drawn on a card, not interpreted. */
export function cleanTitle(text: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what this removes
  const controls = /[\u0000-\u001f\u007f]+/g;
  return text.replace(controls, ' ').replace(/\s+/g, ' ').trim();
}
