/**
 * One job's captured frames, held in memory and served to the composition over loopback HTTP (the URL travels in
 * inputProps, so the cached bundle is never written to and jobs never see each other's frames).
 *
 * A request for a frame that has not been captured yet waits for it. That is what lets Remotion start rendering while
 * the game is still being captured: the capture is mostly waiting on chromium round trips, so the two overlap well,
 * and the output cannot depend on the timing because every composition frame waits for exactly the image it shows.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export const FRAME_EXTENSION = 'jpg';

export function frameName(index: number): string {
  return `${String(index).padStart(5, '0')}.${FRAME_EXTENSION}`;
}

export interface FrameServer {
  /** Ends with `/`; frame i is at `${baseUrl}${frameName(i)}`. */
  baseUrl: string;
  put(index: number, jpeg: Buffer): void;
  /** No more frames will come: waiting and later requests for missing frames get an error response. */
  fail(): void;
  close(): Promise<void>;
}

// Only names the capture produces: nothing else can be asked for.
const FRAME_PATH = /^\/frames\/(\d{5})\.jpg$/;

export async function startFrameServer(frameCount: number): Promise<FrameServer> {
  const frames = new Map<number, Buffer>();
  const waiting = new Map<number, ServerResponse[]>();
  let failed = false;

  const send = (response: ServerResponse, jpeg: Buffer | undefined) => {
    if (!jpeg) {
      response.writeHead(503).end();
      return;
    }
    response.writeHead(200, {
      'content-type': 'image/jpeg',
      'content-length': jpeg.byteLength,
      // A held frame is requested once per composition frame: let the page's cache answer the repeats.
      'cache-control': 'public, max-age=3600, immutable',
    });
    response.end(jpeg);
  };

  const server = createServer((request, response) => {
    const match = request.method === 'GET' ? FRAME_PATH.exec(request.url ?? '') : null;
    const index = match ? Number(match[1]) : -1;
    if (index < 0 || index >= frameCount) {
      response.writeHead(404).end();
      return;
    }
    const jpeg = frames.get(index);
    if (jpeg || failed) {
      send(response, jpeg);
      return;
    }
    const list = waiting.get(index) ?? [];
    list.push(response);
    waiting.set(index, list);
    response.once('close', () => {
      const current = waiting.get(index);
      if (current)
        waiting.set(
          index,
          current.filter((r) => r !== response),
        );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    baseUrl: `http://127.0.0.1:${port}/frames/`,
    put(index, jpeg) {
      frames.set(index, jpeg);
      for (const response of waiting.get(index) ?? []) send(response, jpeg);
      waiting.delete(index);
    },
    fail() {
      failed = true;
      for (const list of waiting.values()) for (const response of list) send(response, undefined);
      waiting.clear();
    },
    close() {
      failed = true;
      return new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}
