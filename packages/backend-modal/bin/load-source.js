// What both bins of this package do first: load the built module (dist/) when the package was built, else (in a
// source checkout) its TypeScript source through tsx. Paths are relative to the package root. A process started with
// the `source` export condition (`node --conditions=source`, as the tests and `npm run` scripts do) resolves the
// workspace packages to their TypeScript sources, which the built module cannot import: it takes the sources too.
export async function loadBuiltOrSource(built, source) {
  if (!usesSourceCondition()) {
    try {
      return await import(new URL(`../${built}`, import.meta.url).href);
    } catch (error) {
      if (error?.code !== 'ERR_MODULE_NOT_FOUND') throw error;
    }
  }
  const { register } = await import('tsx/esm/api');
  register();
  return import(new URL(`../${source}`, import.meta.url).href);
}

function usesSourceCondition() {
  const args = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  return args.some((arg, i) => arg === '--conditions=source' || arg === '-C=source' || ((arg === '--conditions' || arg === '-C') && args[i + 1] === 'source'));
}
