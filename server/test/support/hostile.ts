/**
 * Hostile input for the fuzz tests (fast-check arbitraries): prototype names, wrong types, huge and negative
 * numbers, deep nesting, long strings, lone surrogates, invalid UTF-8, unknown fields. Objects are produced as JSON
 * *text*, so a `__proto__` key really is on the wire (a JS object built with that key would lose it).
 */
import fc from 'fast-check';

/** Names every plain object answers through its prototype. */
export const PROTOTYPE_NAMES = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  'isPrototypeOf',
  'propertyIsEnumerable',
  'toLocaleString',
  '__defineGetter__',
  '__lookupSetter__',
] as const;

const NASTY_STRINGS = [
  '',
  ' ',
  '\u0000',
  '\uD800',
  '\uDFFF',
  'a\u0000b',
  '../../../../etc/passwd',
  '..%2f..%2f',
  '%2e%2e',
  '%00',
  '/',
  '\\',
  '<script>alert(1)</script>',
  '${7*7}',
  'null',
  'undefined',
  'NaN',
  '-1',
  '1e309',
  '0x10',
  '０１２',
  '🎮👾',
  "' OR 1=1 --",
  'DROP TABLE users;--',
  '\u202e\u2066',
  '.git',
  '.git/config',
  'a'.repeat(300),
];

/** Lengths that cross every limit the server has (names 100, content 20 000, payload 1 MB). */
const LONG = [101, 20_001, 70_000].map((n) => 'x'.repeat(n));

export function hostileString(extra: readonly string[] = []): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...PROTOTYPE_NAMES) },
    { weight: 3, arbitrary: fc.constantFrom(...NASTY_STRINGS) },
    { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
    { weight: 1, arbitrary: fc.constantFrom(...LONG) },
    { weight: extra.length > 0 ? 4 : 0, arbitrary: extra.length > 0 ? fc.constantFrom(...extra) : fc.constant('') },
  );
}

const NUMBERS = [0, -0, -1, 1, 2 ** 31, -(2 ** 31), 2 ** 53 + 2, -(2 ** 53) - 2, 1e308, -1e308, 5e-324, 0.5];

/** A JSON value as text: any type where a field expects one, nested a little, keys hostile. */
export function hostileJson(extraStrings: readonly string[] = []): fc.Arbitrary<string> {
  const str = hostileString(extraStrings).map((s) => JSON.stringify(s));
  const { value } = fc.letrec<{ value: string }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      str,
      fc.constantFrom(...NUMBERS).map((n) => JSON.stringify(n)),
      fc.integer().map(String),
      fc.constantFrom('true', 'false', 'null'),
      fc.array(tie('value'), { maxLength: 4 }).map((items) => `[${items.join(',')}]`),
      fc
        .array(fc.tuple(hostileString(), tie('value')), { maxLength: 4 })
        .map((entries) => `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`),
    ),
  }));
  return fc.oneof({ weight: 9, arbitrary: value }, { weight: 1, arbitrary: fc.constantFrom(deepArray(5_000), deepObject(2_000)) });
}

export function deepArray(depth: number): string {
  return '['.repeat(depth) + ']'.repeat(depth);
}

export function deepObject(depth: number): string {
  return '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}

/**
 * A JSON object as text with the given known fields, each present or not. A third of the objects carry only
 * plausible values and no unknown fields (so the handler behind validation is reached); the rest mix in hostile
 * values and unknown fields, prototype names among them.
 */
export function hostileObject(known: Record<string, fc.Arbitrary<string>>, extraStrings: readonly string[] = []): fc.Arbitrary<string> {
  const entries = (hostile: boolean) =>
    Object.entries(known).map(([name, valueText]) =>
      fc.option(
        (hostile ? fc.oneof(valueText, hostileJson(extraStrings)) : valueText).map((v) => `${JSON.stringify(name)}:${v}`),
        { nil: undefined },
      ),
    );
  const unknown = fc.array(
    fc.tuple(hostileString(), hostileJson(extraStrings)).map(([k, v]) => `${JSON.stringify(k)}:${v}`),
    { maxLength: 3 },
  );
  const object = (present: (string | undefined)[], extra: string[]) => `{${[...present.filter((f) => f !== undefined), ...extra].join(',')}}`;
  return fc.oneof(
    { weight: 1, arbitrary: fc.tuple(...entries(false)).map((present) => object(present, [])) },
    { weight: 2, arbitrary: fc.tuple(fc.tuple(...entries(true)), unknown).map(([present, extra]) => object(present, extra)) },
  );
}

/** Bytes that are not UTF-8. */
export const INVALID_UTF8 = [
  Buffer.from([0xff, 0xfe, 0xfd]),
  Buffer.from([0xc3, 0x28]),
  Buffer.from([0x7b, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x7d]),
  Buffer.from([0xf8, 0x88, 0x80, 0x80, 0x80]),
];

const NPM_TEST_SEED = 19;

/**
 * Fuzz budget: a fixed number of runs in `npm test`; `npm run fuzz -- --minutes N` sets FUZZ_MINUTES and each
 * property runs for its `share` of that time instead. FUZZ_SEED replays a reported failure.
 */
export function fuzzBudget(
  runsInNpmTest: number,
  share = 1,
): { numRuns: number; interruptAfterTimeLimit?: number; markInterruptAsFailure: false; seed?: number } {
  const minutes = Number(process.env.FUZZ_MINUTES ?? '0') * share;
  const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
  if (minutes > 0)
    return { numRuns: Number.MAX_SAFE_INTEGER, interruptAfterTimeLimit: minutes * 60_000, markInterruptAsFailure: false, ...(seed ? { seed } : {}) };
  // `npm test` is the same every time (a fixed seed: a red run is a real regression, never bad luck); long runs
  // draw new cases each time.
  return { numRuns: runsInNpmTest, markInterruptAsFailure: false, seed: seed ?? NPM_TEST_SEED };
}
