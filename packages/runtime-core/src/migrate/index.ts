/**
 * `@dreamcore/runtime-core/migrate`: move users (every project's working tree and full git history, and their assets)
 * from one ExecutionBackend to another, e.g. local → Modal, Modal → local (the rollback), or a DreamCore-V2 data
 * directory opened as a read-only local backend → either. See migrate.ts for the design, cli.ts for the command.
 */
export {
  migrate,
  readOnlySource,
  type HistoryAction,
  type ItemOutcome,
  type ItemReport,
  type MigrateEvent,
  type MigrateFailure,
  type MigrateItem,
  type MigrateOptions,
  type MigrateSummary,
  type ReadOnlySource,
} from './migrate.js';
export { formatBytes, formatSummary, progressPrinter, type ProgressPrinterOptions } from './report.js';
export { main as migrateCommand, createBackendByName, unaddressableEntries } from './cli.js';
