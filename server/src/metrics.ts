/**
 * Prometheus metrics at /metrics: jobs by state, job durations, active sockets, HTTP requests, dropped frames and
 * errors that reached a boundary (a handler, a timer, the process) instead of their caller.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  registry: Registry;
  jobsTotal: Counter<'status'>;
  jobDuration: Histogram<'status'>;
  jobsRunning: Gauge;
  sockets: Gauge;
  httpRequests: Counter<'method' | 'status'>;
  wsDroppedFrames: Counter;
  /** Errors caught by an error boundary rather than by the code that caused them, by where they were caught. */
  boundaryErrors: Counter<'where'>;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    jobsTotal: new Counter({ name: 'dreamcore_jobs_total', help: 'Jobs finished, by final status', labelNames: ['status'], registers: [registry] }),
    jobDuration: new Histogram({
      name: 'dreamcore_job_duration_seconds',
      help: 'Job wall time, by final status',
      labelNames: ['status'],
      buckets: [1, 5, 15, 30, 60, 120, 300, 600],
      registers: [registry],
    }),
    jobsRunning: new Gauge({ name: 'dreamcore_jobs_running', help: 'Jobs running now', registers: [registry] }),
    sockets: new Gauge({ name: 'dreamcore_websockets_active', help: 'Open, authenticated WebSocket connections', registers: [registry] }),
    httpRequests: new Counter({
      name: 'dreamcore_http_requests_total',
      help: 'HTTP requests by method and status',
      labelNames: ['method', 'status'],
      registers: [registry],
    }),
    wsDroppedFrames: new Counter({
      name: 'dreamcore_ws_dropped_frames_total',
      help: 'WebSocket frames dropped unparsed because their socket was over its frame budget',
      registers: [registry],
    }),
    boundaryErrors: new Counter({
      name: 'dreamcore_boundary_errors_total',
      help: 'Errors caught by an error boundary (socket handler, job, timer, process) instead of by their caller',
      labelNames: ['where'],
      registers: [registry],
    }),
  };
}
