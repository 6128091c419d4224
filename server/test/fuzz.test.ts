/**
 * Hostile clients, generated (fast-check): every WebSocket message type before and after `init`, and every REST
 * route the app has (walked from its route table, so a new route is fuzzed without anyone remembering to), with and
 * without a valid session, with prototype names, wrong types, huge numbers, deep nesting, long strings, lone
 * surrogates, invalid UTF-8 and unknown fields. Meanwhile a second user must keep getting answers.
 *
 * What must hold: no request is answered 500, no frame goes unanswered, nothing reaches an error boundary (the
 * server's `dreamcore_boundary_errors_total` stays 0: hostile input is refused by validation, not caught after it
 * broke something), Object.prototype is untouched, and health stays green. Bounded here; `npm run fuzz -- --minutes N`
 * runs the same properties for longer.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import fc from 'fast-check';
import webpush from 'web-push';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MESSAGE_TYPES, messageFields, type MessageType } from '../src/ws/messages.js';
import { Client, signUp, startHarness, type Harness, type Session } from './support/harness.js';
import { fuzzBudget, hostileJson, hostileObject, hostileString, INVALID_UTF8, PROTOTYPE_NAMES } from './support/hostile.js';

/** `npm run fuzz -- --minutes N`: the properties share N minutes; the timeouts grow with them. */
const LONG_RUN_MS = Number(process.env.FUZZ_MINUTES ?? '0') * 60_000;
/** Cases run per property, printed in a long run (for the record of what was tried). */
const cases = { beforeInit: 0, afterInit: 0, rest: 0 };

let h: Harness;
let alice: Session;
let bob: Session;
let aliceProject: string;
let bobProject: string;
let bystander: Client;
const prototypeBefore = Object.getOwnPropertyNames(Object.prototype).sort();

beforeAll(async () => {
  h = await startHarness({
    script: [{ text: 'ok' }],
    env: {
      // A fuzzed `message` may start the agent: a couple of runs a minute is plenty.
      WS_AI_MESSAGES_PER_MIN: '2',
      AI_RATE_LIMIT_PER_MIN: '2',
      DAILY_PROJECT_LIMIT: '5',
      WS_MESSAGES_PER_MIN: '100000',
      WS_FRAME_BURST: '100000',
      WS_FRAMES_PER_SEC: '100000',
      RATE_LIMIT_PER_MIN: '1000000',
      // The sockets fuzzed before init are judged by what they sent, not by the harness's 1.5 s sign-in deadline
      // (under load a case can outlast it, and its 4008 is not what the property is about).
      WS_AUTH_TIMEOUT_MS: '120000',
      // Web push on, so its routes are fuzzed past "not configured" (503).
      ...(({ publicKey, privateKey }) => ({ VAPID_PUBLIC_KEY: publicKey, VAPID_PRIVATE_KEY: privateKey }))(webpush.generateVAPIDKeys()),
    },
  });
  [alice, bob] = await Promise.all([signUp(h.url), signUp(h.url)]);
  aliceProject = await createProject(alice, 'Fuzzed');
  bobProject = await createProject(bob, 'Bystander');
  // No index.html in the fuzzed project: a fuzzed render or publish fails fast instead of starting chromium. Files
  // named after prototype members instead, so a request for one reaches the code that serves it.
  const scope = { userId: alice.userId, projectId: aliceProject };
  await h.server.ctx.backend.files.delete(scope, 'index.html');
  for (const name of ['a.constructor', 'b.__proto__', 'c.toString', 'constructor', 'hasOwnProperty.js'])
    await h.server.ctx.backend.files.write(scope, name, 'x');
  bystander = await Client.init(h.url, bob.accessToken);
}, 60_000);

afterAll(async () => {
  bystander?.close();
  await h?.close();
});

async function createProject(session: Session, name: string): Promise<string> {
  const client = await Client.init(h.url, session.accessToken);
  client.send({ type: 'createProject', name });
  const id = (await client.next((m) => m.type === 'projectCreated')).project.id as string;
  client.close();
  return id;
}

/** The second user is served throughout: a round trip through their socket's queue and the database. */
async function bystanderAnswers(): Promise<void> {
  bystander.send({ type: 'getProjectInfo', projectId: bobProject });
  const info = await bystander.next((m) => m.type === 'projectInfo' || m.type === 'error', 10_000);
  expect(info).toMatchObject({ type: 'projectInfo', project: { id: bobProject } });
}

async function boundaryErrors(): Promise<number> {
  const metric = await h.server.ctx.metrics.boundaryErrors.get();
  return metric.values.reduce((sum, v) => sum + v.value, 0);
}

function uuidText(): fc.Arbitrary<string> {
  return fc.constantFrom(aliceProject, aliceProject.toUpperCase(), bobProject, randomUUID(), alice.userId, bob.userId).map((s) => JSON.stringify(s));
}

/**
 * Valid values per field name (the hostile ones come from `hostileObject`, a quarter of the time per field), so a
 * fuzzed frame often passes validation and reaches the handler behind it.
 */
function plausible(type: string, field: string): fc.Arbitrary<string> {
  const json = (values: unknown[]) => fc.constantFrom(...values.map((v) => JSON.stringify(v)));
  switch (field) {
    case 'projectId':
      // Alice's project stays (the runs need it selected); deleting someone else's or no one's is fuzzed.
      return type === 'deleteProject' ? json([bobProject, randomUUID(), aliceProject.replace(/.$/, '0')]) : uuidText();
    case 'jobId':
      return uuidText();
    case 'access_token':
      return json([alice.accessToken, bob.accessToken, 'garbage']);
    case 'content':
    case 'rawContent':
      return json(['2Dのシューティングゲームを作って', 'make a 3d racing game', 'もっと速くして']);
    case 'name':
      return json(['My game', 'ゲーム']);
    case 'selectedStyle':
      return json([
        { dimension: '2d', styleId: 'pixel' },
        { dimension: '3d', styleId: '__proto__' },
        { dimension: 'constructor', styleId: 'toString' },
        { dimension: '__proto__', styleId: 'pixel' },
      ]);
    case 'lastSeq':
      return json([0, 3]);
    case 'versionHash':
    case 'versionId':
      return json(['abc1234', 'ffffffffffffffffffffffffffffffffffffffff', '0000']);
    case 'attachedAssets':
      return json([[{ id: randomUUID(), alias: 'hero.png', url: '/user-assets/x/hero.png' }], []]);
    case 'language':
      return json(['ja', 'en', 'pt', 'xx', '__proto__']);
    case 'debugOptions':
      return json([{ useClaude: true }, {}]);
    case 'visible':
    case 'skipStyleSelection':
    case 'autoFix':
    case 'async':
      return json([true, false]);
    default:
      return json(['x']);
  }
}

function frameFor(type: string): fc.Arbitrary<string> {
  const known: Record<string, fc.Arbitrary<string>> = {};
  if ((MESSAGE_TYPES as readonly string[]).includes(type)) {
    for (const field of messageFields(type as MessageType)) known[field] = plausible(type, field);
  }
  const withType = (typeText: fc.Arbitrary<string>) =>
    fc.tuple(typeText, hostileObject(known)).map(([t, rest]) => (rest === '{}' ? `{"type":${t}}` : `{"type":${t},${rest.slice(1)}`));
  // `type` itself is sometimes hostile too (wrong type, a prototype name, a long string), or absent.
  return fc.oneof(
    { weight: 8, arbitrary: withType(fc.constant(JSON.stringify(type))) },
    { weight: 1, arbitrary: withType(hostileJson()) },
    { weight: 1, arbitrary: hostileObject(known) },
  );
}

const anyFrame: fc.Arbitrary<{ text: string } | { binary: Buffer }> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .constantFrom(...MESSAGE_TYPES, ...PROTOTYPE_NAMES)
      .chain(frameFor)
      .map((text) => ({ text })),
  },
  { weight: 1, arbitrary: hostileJson().map((text) => ({ text })) },
  { weight: 1, arbitrary: hostileString().map((text) => ({ text })) },
  { weight: 1, arbitrary: fc.constantFrom(...INVALID_UTF8).map((binary) => ({ binary })) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes) => ({ binary: Buffer.from(bytes) })) },
);

/** Sends a frame as text, as a binary frame, or as text bytes that are not UTF-8 (which ws closes with 1007). */
function sendRaw(ws: WebSocket, frame: { text: string } | { binary: Buffer }, asText: boolean): void {
  if ('text' in frame) ws.send(frame.text);
  else ws.send(frame.binary, { binary: !asText });
}

async function rawSocket(): Promise<Client> {
  return Client.connect(h.url);
}

describe('WebSocket fuzz', () => {
  it(
    'before init: any frame is refused or closes the socket with a protocol code; the server answers on',
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.tuple(anyFrame, fc.boolean()), { minLength: 1, maxLength: 6 }), async (frames) => {
          cases.beforeInit++;
          const client = await rawSocket();
          for (const [frame, asText] of frames) sendRaw(client.ws, frame, asText);
          client.send({ type: 'ping' });
          try {
            await client.next((m) => m.type === 'pong', 10_000);
            // Answered in order: every frame before the ping got its answer first (or none, for a valid ping/init).
            expect(client.messages.every((m) => typeof m.type === 'string')).toBe(true);
          } catch (error) {
            // A socket may be closed for what it sent: invalid UTF-8 (1007), a failed init (4001). Nothing else.
            expect(client.closeInfo, String(error)).not.toBeNull();
            expect([1007, 4001]).toContain(client.closeInfo!.code);
          }
          client.close();
          await bystanderAnswers();
        }),
        fuzzBudget(60, 1 / 3),
      );
      expect(await boundaryErrors()).toBe(0);
    },
    120_000 + LONG_RUN_MS,
  );

  it(
    'after init: every message type with hostile fields is answered in order, and another user is served meanwhile',
    async () => {
      let client = await Client.init(h.url, alice.accessToken);
      let frames = 0;
      const stopped = new Set<string>();
      // Type by type (`message`, whose handler does the most, gets the most runs), each in a session that has (mostly) selected alice's project, so `message` and its kin get past
      // "No project selected" to the style gate, the quota and the job limits.
      for (const type of MESSAGE_TYPES) {
        await fc.assert(
          fc.asyncProperty(
            fc.integer({ min: 0, max: 4 }).map((n) => n > 0),
            fc.array(fc.oneof({ weight: 4, arbitrary: frameFor(type) }, { weight: 1, arbitrary: fc.constantFrom(...MESSAGE_TYPES).chain(frameFor) }), {
              minLength: 1,
              maxLength: 4,
            }),
            async (select, texts) => {
              cases.afterInit++;
              if (client.closeInfo) client = await Client.init(h.url, alice.accessToken);
              if (select) client.send({ type: 'selectProject', projectId: aliceProject });
              for (const text of texts) client.send(text);
              frames += texts.length;
              // Messages of a socket are handled in order: this answer means every frame before it was handled.
              client.send({ type: 'getJobStatus', jobId: randomUUID() });
              await client.next((m) => m.type === 'jobStatus' && m.job === null, 20_000);
              expect(client.closeInfo).toBeNull();
              // A job a fuzzed `message` started is stopped, so the next runs' messages reach the style gate and the
              // limits instead of joining it.
              for (const started of client.messages.filter((m) => m.type === 'jobStarted' && !m.isExisting && !stopped.has(m.job.id))) {
                stopped.add(started.job.id);
                client.send({ type: 'cancelJob', jobId: started.job.id });
                await client.next((m) => ['completed', 'failed', 'cancelled'].includes(m.type) && m.jobId === started.job.id, 30_000);
              }
              await bystanderAnswers();
            },
          ),
          fuzzBudget(type === 'message' ? 60 : 12, 1 / 3 / MESSAGE_TYPES.length),
        );
      }
      client.close();
      expect(frames).toBeGreaterThan(MESSAGE_TYPES.length * 12);
      expect(await boundaryErrors()).toBe(0);
    },
    180_000 + LONG_RUN_MS,
  );
});

// ---------------------------------------------------------------- REST

interface RouteEntry {
  method: string;
  template: string;
}

/** Regex routes have no parameter names: each gets a template here, and a new one fails the test until it has one. */
const REGEX_TEMPLATES: ReadonlyMap<string, string> = new Map([
  ['/^\\/project\\/[^/]+\\/?$/', '/project/:projectId'],
  ['/^\\/game\\/([^/]+)\\/([^/]+)(?:\\/(.*))?$/', '/game/:userId/:projectId/:file'],
  ['/^\\/g\\/([^/]+)(?:\\/(.*))?$/', '/g/:gameId/:file'],
]);

type Layer = { route?: { path: unknown; methods: Record<string, boolean> }; handle?: { stack?: Layer[] }; rawPath?: unknown };

function routeTable(): RouteEntry[] {
  const out: RouteEntry[] = [];
  const walk = (stack: Layer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        const raw = layer.route.path;
        const template = typeof raw === 'string' ? prefix + raw : REGEX_TEMPLATES.get(String(raw));
        if (!template) throw new Error(`no fuzz template for the regex route ${String(raw)}: add one to REGEX_TEMPLATES`);
        for (const method of Object.keys(layer.route.methods)) out.push({ method: method.toUpperCase(), template });
      } else if (layer.handle?.stack) {
        walk(layer.handle.stack, prefix + (typeof layer.rawPath === 'string' && layer.rawPath !== '/' ? layer.rawPath : ''));
      }
    }
  };
  walk((h.server.app as unknown as { router: { stack: Layer[] } }).router.stack, '');
  return out;
}

/**
 * Route parameters. Mostly coherent (alice's own ids, files that exist, so the fuzz gets past the ownership checks
 * to the code behind them), some of the time someone else's or hostile.
 */
function paramValue(name: string): fc.Arbitrary<string> {
  const own: Record<string, string[]> = {
    projectId: [aliceProject, aliceProject.toUpperCase()],
    jobId: [randomUUID()],
    id: [randomUUID(), 'g_0123456789'],
    gameId: ['g_0123456789'],
    userId: [alice.userId],
    alias: ['hero.png', 'x.constructor', '__proto__.png'],
    file: [
      'index.html',
      'a.constructor',
      'b.__proto__',
      'c.toString',
      'constructor',
      'hasOwnProperty.js',
      '.git/config',
      's-1-abc/index.html',
      '../../etc/passwd',
      'pixel.svg',
      'constructor.svg',
      '__proto__.svg',
    ],
    dimension: ['2d', '3d', 'constructor'],
  };
  const others: Record<string, string[]> = { projectId: [bobProject, randomUUID()], userId: [bob.userId], id: ['g_'] };
  const pick = (table: Record<string, string[]>) => (Object.hasOwn(table, name) ? fc.constantFrom(...table[name]!) : hostileString());
  return fc.oneof({ weight: 6, arbitrary: pick(own) }, { weight: 1, arbitrary: pick(others) }, { weight: 2, arbitrary: hostileString() });
}

/** encodeURIComponent, except that a lone surrogate becomes its (invalid) UTF-8 bytes instead of an exception. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
function percentEncode(value: string): string {
  // encodeURIComponent refuses lone surrogates: those are written as their three bytes, the runs between them
  // encoded whole (a character at a time cost ~5 ms for the 70 000-character strings, thousands of times a run).
  if (value.isWellFormed()) return encodeURIComponent(value);
  let out = '';
  let last = 0;
  for (const match of value.matchAll(LONE_SURROGATE)) {
    const code = match[0].charCodeAt(0);
    out += encodeURIComponent(value.slice(last, match.index));
    out += [0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f)].map((b) => `%${b.toString(16).toUpperCase()}`).join('');
    last = match.index + 1;
  }
  return out + encodeURIComponent(value.slice(last));
}

/** Path text for a segment: usually encoded; sometimes raw, so `..`, `/` and `%00` reach the router as sent. */
function encodeSegment(value: string, raw: boolean): string {
  if (raw) return percentEncode(value).replace(/%2F/gi, '/').replace(/%2E/gi, '.').replace(/%25/g, '%');
  return percentEncode(value);
}

type Body =
  | { kind: 'none' }
  | { kind: 'json'; text: string; contentType: string }
  | { kind: 'bytes'; bytes: Buffer; contentType: string }
  | { kind: 'multipart'; form: Multipart };
interface Multipart {
  fields: [string, string][];
  file?: { field: string; name: string; type: string; bytes: Buffer };
}

const PNG = Buffer.from(
  '89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360f8ffff3f0005fe02fea7d6a4c50000000049454e44ae426082',
  'hex',
);

function bodyArb(): fc.Arbitrary<Body> {
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant<Body>({ kind: 'none' }) },
    {
      weight: 5,
      arbitrary: fc
        .tuple(
          hostileObject({
            title: fc.constant('"A game"'),
            description: hostileJson(),
            tags: fc.constant('["a","b"]'),
            visibility: fc.constantFrom('"public"', '"unlisted"', '"constructor"'),
            name: fc.constant('"x"'),
            prompt: fc.constant('"a red slime"'),
            style: fc.constantFrom('"pixel"', '"toString"'),
            size: fc.constantFrom('"512x512"', '"__proto__"'),
            isPublic: fc.constantFrom('true', '"yes"'),
            projectId: uuidText(),
            thumbnailUrl: fc.constantFrom('"javascript:alert(1)"', '"https://example.com/a.png"'),
            email: fc.constant('"x@example.com"'),
            password: fc.constant('"short"'),
            refresh_token: fc.constant('"nope"'),
          }),
          fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded'),
        )
        .map(([text, contentType]): Body => ({ kind: 'json', text, contentType })),
    },
    { weight: 1, arbitrary: hostileJson().map((text): Body => ({ kind: 'json', text, contentType: 'application/json' })) },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom(...INVALID_UTF8, Buffer.from('{"title":'), Buffer.alloc(0))
        .map((bytes): Body => ({ kind: 'bytes', bytes, contentType: 'application/json' })),
    },
    {
      weight: 3,
      arbitrary: fc
        .record({
          fields: fc.array(
            fc.tuple(
              fc.oneof(
                fc.constantFrom('projectId', 'tags', 'description', 'originalName', '__proto__[polluted]', 'constructor[prototype][polluted]'),
                hostileString(),
              ),
              hostileString(),
            ),
            {
              maxLength: 4,
            },
          ),
          file: fc.option(
            fc.record({
              field: fc.constantFrom('file', 'thumbnail', 'image', '__proto__'),
              name: fc.oneof(fc.constantFrom('hero.png', 'a.constructor', '__proto__.png', 'x.PNG', '.png', 'a.svg', 'toString'), hostileString()),
              type: fc.oneof(fc.constantFrom('image/png', 'image/constructor', 'image/__proto__', 'image/svg+xml', 'audio/mpeg', ''), hostileString()),
              bytes: fc.oneof(
                fc.constant(PNG),
                fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
                fc.constant(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg">&constructor;</svg>')),
              ),
            }),
            { nil: undefined },
          ),
        })
        .map((form): Body => ({ kind: 'multipart', form })),
    },
  );
}

function multipartBody(form: Multipart): { bytes: Buffer; contentType: string } {
  const boundary = `----fuzz${randomUUID()}`;
  const safe = (s: string) => s.replace(/[\r\n"]/g, '_');
  const parts: Buffer[] = [];
  for (const [name, value] of form.fields) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${safe(name)}"\r\n\r\n${value}\r\n`));
  }
  if (form.file) {
    parts.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${safe(form.file.field)}"; filename="${safe(form.file.name)}"\r\nContent-Type: ${safe(form.file.type).replace(/[^\x20-\x7e]/g, '') || 'application/octet-stream'}\r\n\r\n`,
      ),
      form.file.bytes,
      Buffer.from('\r\n'),
    );
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return { bytes: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}` };
}

/** Header values must be latin-1 without controls to be sent at all; anything else is made so. */
const headerSafe = (s: string) => s.replace(/[^\x20-\x7e]/g, '?').slice(0, 8000);

interface Sent {
  status: number;
  text: string;
}

function send(method: string, path: string, headers: Record<string, string>, body: Buffer | undefined): Promise<Sent> {
  return new Promise((resolve, reject) => {
    const url = new URL(h.url);
    const req = http.request(
      { host: url.hostname, port: url.port, method, path, headers: body ? { ...headers, 'content-length': String(body.length) } : headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8').slice(0, 500) }));
        res.on('error', reject);
      },
    );
    req.setTimeout(20_000, () => req.destroy(new Error(`no answer in 20 s: ${method} ${path}`)));
    req.on('error', reject);
    req.end(body);
  });
}

describe('REST fuzz', () => {
  it(
    'every route, with and without a session, with hostile parameters, queries, headers and bodies: never a 500, another user served meanwhile',
    async () => {
      const routes = routeTable();
      expect(routes.length).toBeGreaterThan(30);
      const auths = () =>
        fc.oneof({ weight: 6, arbitrary: fc.constant('alice') }, { weight: 1, arbitrary: fc.constantFrom('none', 'bob', 'garbage', 'hostile') });
      // Route by route, so each one gets its share of runs (a route drawn at random among ~45 would get a handful).
      for (const route of routes) {
        await fc.assert(
          fc.asyncProperty(
            fc.dictionary(fc.constantFrom('projectId', 'jobId', 'id', 'gameId', 'userId', 'alias', 'file', 'dimension'), fc.boolean()),
            fc.array(
              fc.tuple(
                fc.oneof(
                  fc.constantFrom(
                    'after',
                    'limit',
                    'offset',
                    'published',
                    'wait',
                    'q',
                    'sig',
                    'exp',
                    'currentProjectId',
                    'grant_type',
                    '__proto__[x]',
                    'constructor',
                  ),
                  hostileString(),
                ),
                hostileString(),
              ),
              { maxLength: 4 },
            ),
            auths(),
            hostileString(),
            fc.option(
              fc.constantFrom('bytes=0-10', 'bytes=-1', 'bytes=99999999999999999999-', 'bytes=5-1', 'bytes=0-0,1-1,2-2', 'items=0-1', 'bytes=__proto__'),
              {
                nil: undefined,
              },
            ),
            bodyArb(),
            fc.record(
              Object.fromEntries(['projectId', 'jobId', 'id', 'gameId', 'userId', 'alias', 'file', 'dimension'].map((n) => [n, paramValue(n)])) as Record<
                string,
                fc.Arbitrary<string>
              >,
            ),
            async (rawParams, query, auth, hostileToken, range, body, params) => {
              cases.rest++;
              const path =
                route.template.replace(/:(\w+)/g, (_, name: string) =>
                  encodeSegment(Object.hasOwn(params, name) ? params[name]! : 'x', rawParams[name] === true),
                ) + (query.length > 0 ? `?${query.map(([k, v]) => `${percentEncode(k)}=${percentEncode(v)}`).join('&')}` : '');
              const headers: Record<string, string> = {};
              if (auth === 'alice') headers.authorization = `Bearer ${alice.accessToken}`;
              if (auth === 'bob') headers.authorization = `Bearer ${bob.accessToken}`;
              if (auth === 'garbage') headers.authorization = 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.';
              if (auth === 'hostile') headers.authorization = headerSafe(`Bearer ${hostileToken}`);
              if (range) headers.range = range;
              let bytes: Buffer | undefined;
              if (body.kind === 'json') {
                bytes = Buffer.from(body.text);
                headers['content-type'] = body.contentType;
              } else if (body.kind === 'bytes') {
                bytes = body.bytes;
                headers['content-type'] = body.contentType;
              } else if (body.kind === 'multipart') {
                const encoded = multipartBody(body.form);
                bytes = encoded.bytes;
                headers['content-type'] = encoded.contentType;
              }
              const res = await send(route.method, path, headers, route.method === 'GET' || route.method === 'HEAD' ? undefined : bytes);
              expect(res.status, `${route.method} ${path} → ${res.status} ${res.text}`).toBeGreaterThanOrEqual(200);
              expect(res.status, `${route.method} ${path} → ${res.status} ${res.text}`).toBeLessThan(500);
              await bystanderAnswers();
            },
          ),
          fuzzBudget(25, 1 / 3 / routes.length),
        );
      }
      expect(await boundaryErrors()).toBe(0);
      expect((await fetch(`${h.url}/api/health`)).status).toBe(200);
    },
    240_000 + LONG_RUN_MS,
  );
});

describe('what the fuzz found', () => {
  it('a NUL in a path, a query, a JSON body, an upload form or a socket message is a 400 / an error, not a database failure', async () => {
    const auth = { authorization: `Bearer ${alice.accessToken}` };
    for (const path of [
      `/user-assets/${alice.userId}/%00`,
      `/user-assets/${alice.userId}/a%00b`,
      '/api/assets/search?q=%00',
      `/api/projects/${aliceProject}/jobs?limit=%00`,
    ]) {
      const res = await send('GET', path, auth, undefined);
      expect(res, path).toMatchObject({ status: 400 });
      expect(JSON.parse(res.text)).toEqual({ error: 'Text may not contain NUL characters' });
    }
    const draft = await send(
      'PUT',
      `/api/projects/${aliceProject}/publish-draft`,
      { ...auth, 'content-type': 'application/json' },
      Buffer.from('{"title":"a\\u0000b"}'),
    );
    expect(draft.status).toBe(400);
    const form = multipartBody({ fields: [['description', 'a\u0000b']], file: { field: 'file', name: 'hero.png', type: 'image/png', bytes: PNG } });
    const upload = await send('POST', '/api/assets/upload', { ...auth, 'content-type': form.contentType }, form.bytes);
    expect(upload).toMatchObject({ status: 400 });
    const client = await Client.init(h.url, alice.accessToken);
    client.send({ type: 'renameProject', projectId: aliceProject, name: 'a\u0000b' });
    expect(await client.next((m) => m.type === 'error')).toMatchObject({ message: 'Invalid request', detail: 'Text may not contain NUL characters' });
    client.close();
    expect(await boundaryErrors()).toBe(0);
  });
});

describe('after the fuzz', () => {
  it('nothing was polluted and the users data is intact', async () => {
    if (LONG_RUN_MS > 0) console.log(`fuzz cases: ${cases.beforeInit} before init, ${cases.afterInit} after init, ${cases.rest} REST requests`);
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeBefore);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const client = await Client.init(h.url, bob.accessToken);
    expect((client.messages.find((m) => m.type === 'init')?.projects as { id: string }[]).map((p) => p.id)).toContain(bobProject);
    client.close();
    expect(await boundaryErrors()).toBe(0);
  });
});
