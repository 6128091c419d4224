/**
 * Showing a migration: a progress bar on a terminal, one plain line per item elsewhere (CI logs), and the summary.
 */
import type { MigrateEvent, MigrateItem, MigrateSummary } from './migrate.js';

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes / 1024;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  return `${value.toFixed(value < 10 ? 2 : 1)} ${units[i]}`;
}

function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
}

const itemName = (item: MigrateItem) => (item.kind === 'project' ? `${item.userId}/${item.projectId}` : `${item.userId}/assets`);

export interface ProgressPrinterOptions {
  /** Where to write (default process.stderr). */
  stream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Force the bar (true) or plain lines (false); default: the stream's isTTY. */
  tty?: boolean;
  /** Plain mode: also print items that were already identical (default true). */
  showSkipped?: boolean;
}

/** An `onProgress` handler. */
export function progressPrinter(options: ProgressPrinterOptions = {}): (event: MigrateEvent) => void {
  const stream = options.stream ?? process.stderr;
  const tty = options.tty ?? Boolean(stream.isTTY);
  const started = Date.now();
  let total = 0;
  let bytes = 0;
  const counts = { copied: 0, identical: 0, planned: 0, failed: 0, aborted: 0 };
  let barShown = false;

  const bar = (done: number) => {
    const width = Math.max(10, Math.min(40, (stream.columns ?? 100) - 70));
    const filled = total === 0 ? width : Math.round((done / total) * width);
    const elapsed = Date.now() - started;
    const eta = done > 0 && done < total ? ` eta ${formatDuration(Math.round((elapsed / done) * (total - done)))}` : '';
    const line =
      `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total}` +
      `  copied ${counts.copied + counts.planned}  same ${counts.identical}  failed ${counts.failed}  ${formatBytes(bytes)}${eta}`;
    stream.write(`\r\x1b[2K${line}`);
    barShown = true;
  };
  const above = (text: string) => {
    if (barShown) stream.write('\r\x1b[2K');
    stream.write(`${text}\n`);
  };

  return (event) => {
    switch (event.type) {
      case 'plan':
        total = event.items;
        if (tty) bar(0);
        else stream.write(`plan: ${event.users} user(s), ${event.projects} project(s), ${event.items - event.projects} asset space(s)\n`);
        break;
      case 'item-start':
        break;
      case 'item-done': {
        const r = event.report;
        counts[r.outcome]++;
        bytes += r.bytes + r.historyBytes;
        const detail =
          r.outcome === 'failed' || r.outcome === 'aborted'
            ? (r.reason ?? '')
            : `files ${r.files}  ${formatBytes(r.bytes)}  commits ${r.commits}${r.historyBytes ? ` (${formatBytes(r.historyBytes)})` : ''}${r.deleted ? `  deleted ${r.deleted}` : ''}  (${formatDuration(r.durationMs)})`;
        const line = `[${event.done}/${event.total}] ${r.outcome.padEnd(9)} ${itemName(r.item)}  ${detail}`;
        if (tty) {
          if (r.outcome === 'failed') above(line);
          bar(event.done);
        } else if (r.outcome !== 'identical' || (options.showSkipped ?? true)) {
          stream.write(`${line}\n`);
        }
        break;
      }
      case 'done':
        if (tty && barShown) stream.write('\n');
        break;
    }
  };
}

export function formatSummary(s: MigrateSummary): string {
  const mode = s.verifyOnly ? ' (verify only)' : s.dryRun ? ' (dry run: nothing written)' : '';
  const would = s.dryRun ? 'would copy' : 'copied';
  const lines = [
    `migration ${s.from} → ${s.to}${mode}${s.aborted ? ' — ABORTED' : ''}`,
    `  users        ${s.users}`,
    `  projects     ${s.projects} (+ ${s.assetSpaces} asset space(s))`,
    `  ${would.padEnd(12)} ${s.copied} item(s): ${s.files} file(s), ${formatBytes(s.bytes)}, ${s.commits} commit(s) (${formatBytes(s.historyBytes)} of history)${s.deleted ? `, ${s.deleted} stale target entr(ies) deleted` : ''}`,
    `  skipped      ${s.skipped} item(s) already identical`,
    `  source       ${s.sourceFiles} file(s), ${formatBytes(s.sourceBytes)}, ${s.sourceCommits} commit(s)`,
  ];
  if (s.pending) lines.push(`  pending      ${s.pending} item(s) not finished (run again to complete)`);
  lines.push(`  failed       ${s.failed.length}`);
  for (const f of s.failed) {
    const where = f.projectId ? `${f.userId}/${f.projectId}` : f.assets ? `${f.userId}/assets` : f.userId;
    lines.push(`    ✗ ${where}: ${f.code ? `[${f.code}] ` : ''}${f.reason}`);
  }
  if (s.warnings.length) {
    lines.push(`  warnings     ${s.warnings.length}`);
    for (const w of s.warnings.slice(0, 20)) lines.push(`    ! ${w}`);
    if (s.warnings.length > 20) lines.push(`    … ${s.warnings.length - 20} more`);
  }
  lines.push(`  took         ${formatDuration(s.durationMs)}`);
  return lines.join('\n');
}
