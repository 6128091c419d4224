/**
 * @dreamcore/media: the media every backend offers, written once. A backend supplies where the bytes live (its files
 * capability for images, a folder for videos); the work itself is the same on this machine and in a Modal sandbox.
 */
export {
  createImageGenerator,
  processImage,
  keyOutMagenta,
  DEFAULT_IMAGE_MODEL,
  DEFAULT_IMAGE_TIMEOUT_MS,
  type ImageGeneratorOptions,
  type GenerateImage,
} from './image.js';
export {
  createVideoRenderer,
  CHROMIUM_CANDIDATES,
  defaultBrowserExecutable,
  defaultBundleCacheDir,
  installedChromium,
  type VideoRendererOptions,
  type VideoRenderer,
  type VideoTimings,
  type VideoTuning,
} from './video/index.js';
export { planVideo, VIDEO_DEFAULTS, VIDEO_LIMITS, type VideoSettings, type VideoPlan } from './video/options.js';
export { assetReader, checkGameFolder, type GameCheckOptions } from './check.js';
export { ChromiumPool, sharedChromiumPool, type ChromiumLease, type ChromiumPoolOptions } from './browser-pool.js';
export type { AssetReader } from './video/capture.js';
