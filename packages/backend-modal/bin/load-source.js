// What both bins of this package do first: load the built module (dist/) when the package was built, else (in a
// source checkout) its TypeScript source through tsx. Paths are relative to the package root.
export async function loadBuiltOrSource(built, source) {
  try {
    return await import(new URL(`../${built}`, import.meta.url).href);
  } catch (error) {
    if (error?.code !== 'ERR_MODULE_NOT_FOUND') throw error;
  }
  const { register } = await import('tsx/esm/api');
  register();
  return import(new URL(`../${source}`, import.meta.url).href);
}
