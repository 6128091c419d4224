/**
 * A flooding socket costs the others nothing: frames are counted before they are parsed; over its budget a socket
 * is paused and what was already read is dropped unparsed (the sender is told how many when the pause ends).
 * Figures for a bystander's latency during a flood are in `npm run bench -- flood`.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Client, signUp, startHarness, type Harness } from './support/harness.js';

const BURST = 20;
const PER_SEC = 10;
let h: Harness;

beforeAll(async () => {
  h = await startHarness({
    env: {
      WS_FRAME_BURST: String(BURST),
      WS_FRAMES_PER_SEC: String(PER_SEC),
      WS_MESSAGES_PER_MIN: '100000',
      // The flooder never signs in: the harness's short sign-in deadline (1.5 s, for the 4008 case) closed it under
      // load before its last frame, which then was never answered. This test is about frames, not sign-in.
      WS_AUTH_TIMEOUT_MS: '120000',
    },
  });
});

afterAll(async () => {
  await h?.close();
});

it('frames over a socket budget are not parsed or answered; the sender is told, others are served, and the socket works on', async () => {
  const flooder = await Client.connect(h.url);
  const started = performance.now();
  for (let i = 0; i < 2_000; i++) flooder.send({ type: 'ping' });

  // Meanwhile a new user signs up, connects and is answered, several times over.
  const user = await signUp(h.url);
  const bystander = await Client.init(h.url, user.accessToken);
  for (let i = 0; i < 5; i++) {
    bystander.send({ type: 'getJobStatus', jobId: randomUUID() });
    await bystander.next((m) => m.type === 'jobStatus');
  }
  const pongs = () => flooder.messages.filter((m) => m.type === 'pong').length;
  const elapsedSeconds = (performance.now() - started) / 1000;
  expect(pongs()).toBeLessThanOrEqual(BURST + Math.ceil(PER_SEC * elapsedSeconds) + 1);
  expect(pongs()).toBeGreaterThanOrEqual(BURST);

  // Every frame of the flood is answered or counted in a notice, none twice, without the sender sending anything
  // more: the frames dropped during a pause are told when it ends (a sender whose last frames were dropped may never
  // send again). Until then the flood may still be in the server's TCP buffer, so the next frame waits for this.
  const dropped = () => flooder.messages.filter((m) => m.type === 'error').reduce((sum, m) => sum + (m.error.code === 'RATE_LIMITED' ? m.error.dropped : 0), 0);
  await expect.poll(() => pongs() + dropped(), { timeout: 10_000, message: 'frames answered or told dropped' }).toBe(2_000);
  // Once it may send again, its next frame is served.
  flooder.send({ type: 'ping' });
  await expect.poll(() => pongs() + dropped(), { timeout: 10_000, message: 'frames answered or told dropped' }).toBe(2_001);
  expect(dropped()).toBeGreaterThan(1_000);
  expect(flooder.messages.at(-1)).toEqual({ type: 'pong' });
  expect(flooder.closeInfo).toBeNull();
  const metric = await h.server.ctx.metrics.wsDroppedFrames.get();
  expect(metric.values[0]!.value).toBe(dropped());
  flooder.close();
  bystander.close();
});
