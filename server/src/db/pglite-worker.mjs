/**
 * The embedded database's own thread. PGlite runs PostgreSQL as WebAssembly, synchronously: a query on the server's
 * thread stops every socket for as long as it runs (measured: 50 small transactions held the event loop for ~100 ms
 * with not one 1 ms timer firing). Here it runs beside the server, which only posts messages (see pglite-thread.ts).
 *
 * Plain JavaScript on purpose: a worker is a fresh module graph, and this file must load the same way under tsx,
 * vitest and plain node, without a TypeScript loader.
 *
 * Protocol (one request, one reply, matched by `id`):
 *   open {dataDir}            → null           query {sql, params}   → rows
 *   exec {sql}                → null           transaction {statements: [{sql, params}]} → rows of the last one
 *   begin                     → txId           txQuery {txId, sql, params} → rows
 *   end {txId, commit}        → null           close                 → null
 * A reply is {id, ok: true, value} or {id, ok: false, error: {message, code, ...}} (PostgreSQL's error fields kept).
 */
import { parentPort as parent } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';

/** @typedef {import('@electric-sql/pglite').Transaction} Transaction */
/**
 * An open interactive transaction: its handle, how to end it, and the promise that settles when it has ended.
 * @typedef {{ tx?: Transaction, resolve?: (value?: unknown) => void, reject?: (reason: unknown) => void, done?: Promise<unknown> }} OpenTransaction
 */
/** A request from pglite-thread.ts (see the protocol above). @typedef {{ id: number, op: string, [field: string]: any }} Request */

if (!parent) throw new Error('pglite-worker.mjs runs as a worker thread (pglite-thread.ts starts it)');
const parentPort = parent;

/** @type {PGlite | null} */
let pg = null;
/** Interactive transactions in progress: begin's id → the open transaction and how to end it. @type {Map<number, OpenTransaction>} */
const open = new Map();
const ROLLBACK = Symbol('rollback');

/** @param {any} error */
function plainError(error) {
  /** @type {Record<string, string | number | boolean | null>} */
  const out = { message: String(error?.message ?? error), name: String(error?.name ?? 'Error') };
  if (error && typeof error === 'object') {
    for (const [key, value] of Object.entries(error)) {
      if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) out[key] = value;
    }
  }
  return out;
}

function database() {
  if (!pg) throw new Error('the embedded database is not open');
  return pg;
}

/** @param {Request} message */
async function handle(message) {
  switch (message.op) {
    case 'open':
      pg = await PGlite.create(message.dataDir);
      return null;
    case 'query':
      return (await database().query(message.sql, message.params)).rows;
    case 'exec':
      await database().exec(message.sql);
      return null;
    case 'transaction':
      return database().transaction(async (tx) => {
        let rows = [];
        for (const statement of message.statements) rows = (await tx.query(statement.sql, statement.params)).rows;
        return rows;
      });
    case 'begin': {
      /** @type {OpenTransaction} */
      const entry = {};
      /** @type {Promise<void>} */
      const ready = new Promise((started) => {
        entry.done = database()
          .transaction(
            (tx) =>
              new Promise((resolve, reject) => {
                Object.assign(entry, { tx, resolve, reject });
                open.set(message.id, entry);
                started();
              }),
          )
          .catch((error) => {
            if (error !== ROLLBACK) throw error;
          });
      });
      const done = entry.done;
      // BEGIN itself can fail; then the transaction never opens and `done` says why.
      await Promise.race([ready, done]);
      if (!open.has(message.id)) await done;
      return message.id;
    }
    case 'txQuery': {
      const entry = open.get(message.txId);
      if (!entry) throw new Error(`no open transaction ${message.txId}`);
      if (!entry.tx) throw new Error(`transaction ${message.txId} has not started`);
      return (await entry.tx.query(message.sql, message.params)).rows;
    }
    case 'end': {
      const entry = open.get(message.txId);
      if (!entry) throw new Error(`no open transaction ${message.txId}`);
      open.delete(message.txId);
      if (message.commit) entry.resolve?.();
      else entry.reject?.(ROLLBACK);
      await entry.done;
      return null;
    }
    case 'close':
      await pg?.close();
      pg = null;
      return null;
    default:
      throw new Error(`unknown operation ${message.op}`);
  }
}

parentPort.on('message', (/** @type {Request} */ message) => {
  handle(message).then(
    (value) => parentPort.postMessage({ id: message.id, ok: true, value }),
    (error) => parentPort.postMessage({ id: message.id, ok: false, error: plainError(error) }),
  );
});
