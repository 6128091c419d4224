/**
 * `dreamcore-migrate`: the migration as a command.
 *
 *   npm run migrate -- --from local --data-dir /data --to modal --all
 *   npm run migrate -- --from v2 --data-dir /srv/dreamcore-v2/data --to local --to-data-dir /data --users <uuid>,<uuid>
 *   npm run migrate -- --from modal --to local --data-dir /data --all            # the rollback
 *
 * Backends are made by name: `@dreamcore/backend-<name>` exporting `create<Name>Backend(options)`. `local` takes its
 * data directory from --data-dir or $DATA_DIR (--from-data-dir / --to-data-dir when both sides are local) and is opened
 * read-only as the source; `v2` is a DreamCore-V2 data directory, i.e. a read-only local backend. `modal` reads its
 * configuration (MODAL_TOKEN_ID, MODAL_TOKEN_SECRET, MODAL_ENVIRONMENT, MODAL_SERVER_URL, DREAMCORE_MODAL_*) from the
 * environment. Exit code: 0 when every item is identical or copied, 1 when any failed or the run was interrupted,
 * 2 for a usage error.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { isUuid } from '../scope.js';
import type { ExecutionBackend } from '../contract.js';
import { migrate, type MigrateSummary } from './migrate.js';
import { formatSummary, progressPrinter } from './report.js';

const USAGE = `usage: dreamcore-migrate --from <backend> --to <backend> (--users <id,id,…> | --all) [options]

backends: local, v2 (a DreamCore-V2 data directory, read-only), modal (MODAL_* environment), or any
          @dreamcore/backend-<name> package exporting create<Name>Backend

  --data-dir DIR        data directory of the local/v2 side (of the source, when both sides are local);
                        default: $DATA_DIR
  --from-data-dir DIR   data directory of the source
  --to-data-dir DIR     data directory of the target (required when both sides are local)
  --users a,b           these users (lower-case UUIDs)
  --all                 every user the source has
  --dry-run             compare and say what would move; write nothing
  --verify-only         compare only; any difference fails (check a finished migration)
  --overwrite           replace target projects whose history has commits the source lacks, prune target-only assets
  --no-assets           projects only
  --concurrency N       items in flight (default 4)
  --file-concurrency N  file reads/writes in flight per item (default 4)
  --plain               plain lines even on a terminal
  --json                print the summary as JSON on stdout
`;

class UsageError extends Error {}

function positiveInt(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new UsageError(`${flag} must be an integer from 1 to 256`);
  return n;
}

/** Makes a backend by name with dynamic import: this package depends on no backend. */
export async function createBackendByName(name: string, side: 'from' | 'to', dataDir: string | undefined): Promise<ExecutionBackend> {
  if (!/^[a-z][a-z0-9-]*$/.test(name)) throw new UsageError(`bad backend name ${JSON.stringify(name)}`);
  const local = name === 'local' || name === 'v2';
  if (name === 'v2' && side === 'to') throw new UsageError('v2 is a source only: write to "local" (the same layout) instead');
  if (local && !dataDir) throw new UsageError(`--data-dir (or --${side}-data-dir) is required for ${name}`);
  const packageName = `@dreamcore/backend-${local ? 'local' : name}`;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(packageName)) as Record<string, unknown>;
  } catch (error) {
    throw new UsageError(`cannot load ${packageName}: ${(error as Error).message}`);
  }
  const factoryName = `create${local ? 'Local' : name.replace(/(^|-)([a-z])/g, (_, __, c: string) => c.toUpperCase())}Backend`;
  const factory = mod[factoryName];
  if (typeof factory !== 'function') throw new UsageError(`${packageName} does not export ${factoryName}`);
  const options = local ? { dataDir: path.resolve(dataDir!), readOnly: side === 'from' } : {};
  return (await (factory as (o: unknown) => ExecutionBackend | Promise<ExecutionBackend>)(options)) as ExecutionBackend;
}

/**
 * What a local/V2 data directory holds that the contract cannot address (ids that are not lower-case UUIDs): it is
 * reported, because a migration through the contract cannot see it.
 */
export function unaddressableEntries(dataDir: string): string[] {
  const out: string[] = [];
  const dirs = (p: string) => {
    try {
      return readdirSync(p, { withFileTypes: true });
    } catch {
      return [];
    }
  };
  for (const user of dirs(path.join(dataDir, 'users'))) {
    const userPath = `users/${user.name}`;
    if (!user.isDirectory() || !isUuid(user.name)) {
      out.push(userPath);
      continue;
    }
    for (const project of dirs(path.join(dataDir, 'users', user.name, 'projects'))) {
      if (!project.isDirectory() || !isUuid(project.name)) out.push(`${userPath}/projects/${project.name}`);
    }
  }
  return out;
}

export async function main(argv: string[], io: { stdout?: NodeJS.WritableStream; stderr?: NodeJS.WritableStream & { isTTY?: boolean } } = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  let from: ExecutionBackend | undefined;
  let to: ExecutionBackend | undefined;
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = () => {
    interrupts++;
    if (interrupts === 1) {
      stderr.write('\ninterrupted: finishing the files in flight, then stopping (press again to quit now)\n');
      controller.abort();
    } else {
      process.exit(130);
    }
  };
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        from: { type: 'string' },
        to: { type: 'string' },
        'data-dir': { type: 'string' },
        'from-data-dir': { type: 'string' },
        'to-data-dir': { type: 'string' },
        users: { type: 'string' },
        all: { type: 'boolean', default: false },
        'dry-run': { type: 'boolean', default: false },
        'verify-only': { type: 'boolean', default: false },
        overwrite: { type: 'boolean', default: false },
        'no-assets': { type: 'boolean', default: false },
        concurrency: { type: 'string' },
        'file-concurrency': { type: 'string' },
        plain: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    });
    if (values.help) {
      stdout.write(USAGE);
      return 0;
    }
    if (!values.from || !values.to) throw new UsageError('--from and --to are required');
    if (Boolean(values.users) === values.all) throw new UsageError('give either --users a,b or --all');
    const isLocal = (n: string) => n === 'local' || n === 'v2';
    // --data-dir is the local side's; with local on both sides it is the source's, and --to-data-dir is required.
    const dataDir = values['data-dir'] ?? process.env.DATA_DIR; // the server's own setting, when it is exported
    const fromDir = values['from-data-dir'] ?? (isLocal(values.from) ? dataDir : undefined);
    const toDir = values['to-data-dir'] ?? (isLocal(values.to) && !isLocal(values.from) ? dataDir : undefined);
    if (fromDir && toDir && isLocal(values.from) && isLocal(values.to) && path.resolve(fromDir) === path.resolve(toDir)) {
      throw new UsageError('source and target are the same directory');
    }
    const concurrency = positiveInt(values.concurrency, '--concurrency', 4);
    const fileConcurrency = positiveInt(values['file-concurrency'], '--file-concurrency', 4);
    const users = values.all
      ? ('all' as const)
      : values
          .users!.split(',')
          .map((u) => u.trim())
          .filter(Boolean);

    from = await createBackendByName(values.from, 'from', fromDir);
    to = await createBackendByName(values.to, 'to', toDir);

    const unaddressable = isLocal(values.from) && fromDir ? unaddressableEntries(path.resolve(fromDir)) : [];
    if (unaddressable.length) {
      stderr.write(`warning: ${unaddressable.length} entr(ies) in the source are not addressable (ids must be lower-case UUIDs) and are NOT migrated:\n`);
      for (const e of unaddressable.slice(0, 20)) stderr.write(`  ${e}\n`);
    }

    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const summary: MigrateSummary = await migrate({
      from,
      to,
      users,
      concurrency,
      fileConcurrency,
      dryRun: values['dry-run'],
      verifyOnly: values['verify-only'],
      overwrite: values.overwrite,
      assets: !values['no-assets'],
      signal: controller.signal,
      onProgress: progressPrinter({ stream: stderr, tty: values.plain ? false : undefined }),
    });
    if (unaddressable.length)
      summary.warnings.unshift(`${unaddressable.length} source entr(ies) not addressable, not migrated: ${unaddressable.slice(0, 5).join(', ')}`);
    stderr.write(`${formatSummary(summary)}\n`);
    if (values.json) stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    return summary.failed.length > 0 || summary.aborted ? 1 : 0;
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      stderr.write(`dreamcore-migrate: ${(error as Error).message}\n\n${USAGE}`);
      return 2;
    }
    stderr.write(`dreamcore-migrate: ${(error as { code?: string }).code ? `[${(error as { code?: string }).code}] ` : ''}${(error as Error).message}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await Promise.allSettled([from?.close(), to?.close()]);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
