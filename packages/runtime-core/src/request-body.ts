/**
 * Reading an HTTP request's body whole, up to a cap: the key proxy (which must hold a model request to send it again)
 * and the stand-ins for the model and Gemini APIs (which refuse what the real APIs refuse) share it.
 */
import type { IncomingMessage } from 'node:http';

/**
 * The body, or null when it is longer than `limit` bytes. Past the cap the rest is read and dropped rather than
 * the socket cut, so the caller can still answer (413 or the API's own error) on the same connection.
 * Rejects when the client aborts the request.
 */
export function readRequestBody(req: IncomingMessage, limit: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.resume();
        resolve(null);
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
    req.on('close', () => {
      if (!req.complete) reject(new Error('the request was aborted'));
    });
  });
}
