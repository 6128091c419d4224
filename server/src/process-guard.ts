/**
 * The last error boundary: what every handler, job and timer boundary missed reaches the process here. One such
 * error must not stop the service (every open socket and running job of every user would go with it), so it is
 * logged and counted, and the server goes on. A process that keeps failing is broken, though: past `maxPerMinute`
 * uncaught exceptions it shuts down cleanly and exits 1, for the supervisor to restart it, and the boot-time reaper
 * settles whatever it was running. Installed by the `npm start` entry point, not by `startServer` (a library user or
 * a test keeps its own process policy).
 */
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

export interface ProcessGuardOptions {
  log: Logger;
  metrics: Pick<Metrics, 'boundaryErrors'>;
  /** Called once when the process has failed too often; it should close the server and exit. */
  onBroken: (reason: string) => void;
  maxPerMinute?: number;
  now?: () => number;
}

export function installProcessGuards(options: ProcessGuardOptions): () => void {
  const { log, metrics, onBroken, maxPerMinute = 10, now = Date.now } = options;
  const recent: number[] = [];
  let broken = false;

  const onRejection = (reason: unknown) => {
    metrics.boundaryErrors.inc({ where: 'process' });
    log.error({ err: reason }, 'unhandled promise rejection (the server goes on)');
  };
  const onException = (error: Error) => {
    metrics.boundaryErrors.inc({ where: 'process' });
    log.error({ err: error }, 'uncaught exception (the server goes on)');
    const t = now();
    recent.push(t);
    while (recent.length > 0 && recent[0]! <= t - 60_000) recent.shift();
    if (recent.length > maxPerMinute && !broken) {
      broken = true;
      log.fatal({ count: recent.length }, 'too many uncaught exceptions in a minute: shutting down for a restart');
      onBroken(`${recent.length} uncaught exceptions in a minute`);
    }
  };
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return () => {
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
  };
}
