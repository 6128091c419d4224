/**
 * Images built from their recipe, or refused the way Modal's builder would refuse them.
 *
 * Modal builds an image from Dockerfile commands (`FROM`, `RUN ...`). There is no registry and no network here, so
 * the emulator knows a set of steps and provides what they install from this machine, at the paths the recipe
 * installs them to; a step it does not know, a package this machine does not have, or a pinned version other than
 * the one here fails the build with a message that says so. A recipe change that would break on Modal (a package
 * dropped, a pin moved) therefore breaks here too, because a sandbox sees only what its image holds.
 *
 * Known steps:
 * - `FROM node:20-bookworm-slim` / `FROM debian:bookworm-slim` (this machine must be Debian 12, and for node, have
 *   Node 20: it becomes /usr/local/bin/node with npm, as in the official image);
 * - `RUN apt-get update`, `apt-get install [-y] [--no-install-recommends] <package[=version]>...`,
 *   `rm -rf /var/lib/apt/lists/*`: each package with its dependency closure, as installed here (dpkg's own file
 *   lists), plus the base system (Essential and required packages);
 * - `RUN npm install -g <name>@<exact version>...`: the package from this checkout's node_modules (the version must be
 *   the pinned one) with its dependencies, at /usr/local/lib/node_modules/<name>, its bins linked in /usr/local/bin;
 * - `RUN <command> --version`: a check that the command is on the image's PATH;
 * - `RUN dreamcore-render --prepare --cache-dir <dir>`: run here (the media package's own command), into the image;
 * - `ENV NAME=value`.
 * Steps of a `RUN` may be joined with `&&`.
 *
 * An image is a read-only tree under the cache directory (`DREAMCORE_MODAL_IMAGE_CACHE`, default
 * `~/.cache/dreamcore/modal-emulator/images`), made of hard links to this machine's files where possible, keyed by
 * what went into it (package versions, file sizes and times), so it is built once and shared by every emulator.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, readdirSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { copyFile, link, lstat, mkdir, readlink, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, join, posix, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** A build that cannot succeed: the message is what Modal's build log would end with. */
export class ImageBuildError extends Error {
  override readonly name = 'ImageBuildError';
}

/** What an image holds, accumulated over its layers. */
export interface ImageRecipe {
  base: 'node:20-bookworm-slim' | 'debian:bookworm-slim';
  apt: string[];
  npm: { name: string; version: string }[];
  /** `<command> --version` checks, run against the finished tree. */
  checks: string[];
  /** `dreamcore-render --prepare --cache-dir <dir>` steps. */
  prepares: string[];
  env: Record<string, string>;
}

/** A materialised image: its root (with `usr/`) and the environment it sets. */
export interface BuiltImage {
  root: string;
  env: Record<string, string>;
}

const BASES = ['node:20-bookworm-slim', 'debian:bookworm-slim'] as const;
const BASE_ALIASES: Record<string, ImageRecipe['base']> = { 'debian:12-slim': 'debian:bookworm-slim', 'node:20-slim': 'node:20-bookworm-slim' };
const KNOWN = `the emulator knows FROM ${BASES.join(' | ')}, apt-get install of packages installed on this machine, npm install -g <name>@<exact version> of packages in this checkout, <command> --version, dreamcore-render --prepare --cache-dir <dir>, and ENV`;

/** The recipe after one layer of Dockerfile commands on top of `parent` (undefined for the first layer). */
export function applyLayer(parent: ImageRecipe | undefined, commands: readonly string[]): ImageRecipe {
  let recipe: ImageRecipe | undefined = parent ? structuredClone(parent) : undefined;
  commands.forEach((raw, index) => {
    const line = raw.trim();
    const step = `step ${index + 1} (\`${line.length > 120 ? `${line.slice(0, 117)}...` : line}\`)`;
    const [keyword = '', ...rest] = line.split(/\s+/);
    const argument = line.slice(keyword.length).trim();
    switch (keyword.toUpperCase()) {
      case 'FROM': {
        if (argument === 'base') {
          if (!parent) throw new ImageBuildError(`${step}: FROM base without a base image`);
          return;
        }
        const base = (BASES as readonly string[]).includes(argument) ? (argument as ImageRecipe['base']) : BASE_ALIASES[argument];
        if (!base) throw new ImageBuildError(`${step}: the base image ${argument} cannot be built here; ${KNOWN}`);
        recipe = { base, apt: [], npm: [], checks: [], prepares: [], env: {} };
        return;
      }
      case 'ENV': {
        if (!recipe) throw new ImageBuildError(`${step}: ENV before FROM`);
        const match = /^([A-Za-z_][A-Za-z0-9_]*)[= ](.*)$/.exec(argument);
        if (!match) throw new ImageBuildError(`${step}: ENV must be NAME=value`);
        recipe.env[match[1]!] = match[2]!.replace(/^"(.*)"$/, '$1');
        return;
      }
      case 'RUN': {
        if (!recipe) throw new ImageBuildError(`${step}: RUN before FROM`);
        for (const command of argument.split(/\s*&&\s*|\s*;\s*/)) runStep(recipe, command.trim(), step);
        return;
      }
      default:
        void rest;
        throw new ImageBuildError(`${step}: ${keyword || 'an empty line'} is not a step the emulator can build; ${KNOWN}`);
    }
  });
  if (!recipe) throw new ImageBuildError('the image has no FROM');
  return recipe;
}

function runStep(recipe: ImageRecipe, command: string, step: string): void {
  const words = command.split(/\s+/).filter(Boolean);
  if (words.length === 0) return;
  const [program, ...args] = words as [string, ...string[]];
  if (program === 'apt-get' && args[0] === 'update') return;
  if (program === 'rm' && /^-[rRf]+$/.test(args[0] ?? '') && args.slice(1).every((a) => a.startsWith('/var/lib/apt/lists'))) return;
  if (program === 'apt-get' && args[0] === 'install') {
    const packages = args.slice(1).filter((a) => !a.startsWith('-'));
    const unknownFlags = args.slice(1).filter((a) => a.startsWith('-') && !['-y', '--yes', '-qq', '-q', '--no-install-recommends'].includes(a));
    if (unknownFlags.length > 0) throw new ImageBuildError(`${step}: apt-get install ${unknownFlags.join(' ')} is not emulated`);
    if (!args.includes('--no-install-recommends'))
      throw new ImageBuildError(`${step}: use apt-get install --no-install-recommends (the emulator installs no recommended packages)`);
    for (const pkg of packages) {
      if (!/^[a-z0-9][a-z0-9+.-]+(=[A-Za-z0-9.+:~-]+)?$/.test(pkg)) throw new ImageBuildError(`${step}: ${pkg} is not a Debian package name`);
      if (!recipe.apt.includes(pkg)) recipe.apt.push(pkg);
    }
    return;
  }
  if (program === 'npm' && (args[0] === 'install' || args[0] === 'i') && (args.includes('-g') || args.includes('--global'))) {
    for (const spec of args.slice(1).filter((a) => !a.startsWith('-'))) {
      const at = spec.lastIndexOf('@');
      const name = at > 0 ? spec.slice(0, at) : spec;
      const version = at > 0 ? spec.slice(at + 1) : '';
      if (!/^\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$/.test(version)) {
        throw new ImageBuildError(`${step}: npm install -g ${spec}: pin an exact version (name@x.y.z); the emulator provides the one in this checkout`);
      }
      recipe.npm = recipe.npm.filter((p) => p.name !== name).concat({ name, version });
    }
    return;
  }
  if (args.length === 1 && args[0] === '--version') {
    recipe.checks.push(program);
    return;
  }
  if (program === 'dreamcore-render' && args[0] === '--prepare' && args[1] === '--cache-dir' && args[2]?.startsWith('/') && args.length === 3) {
    recipe.prepares.push(posix.normalize(args[2]));
    return;
  }
  throw new ImageBuildError(`${step}: \`${command}\` is not a step the emulator can build; ${KNOWN}`);
}

// ---- this machine's packages ----------------------------------------------------------------------------------

interface DpkgPackage {
  name: string;
  arch: string;
  version: string;
  essential: boolean;
  priority: string;
  depends: string;
  provides: string[];
}

class Dpkg {
  readonly packages = new Map<string, DpkgPackage>();
  readonly providers = new Map<string, string[]>();

  constructor(statusFile = '/var/lib/dpkg/status') {
    for (const stanza of readFileSync(statusFile, 'utf8').split(/\n\n+/)) {
      const fields = new Map<string, string>();
      let last = '';
      for (const line of stanza.split('\n')) {
        if (/^\s/.test(line) && last) fields.set(last, `${fields.get(last)}\n${line}`);
        else {
          const colon = line.indexOf(':');
          if (colon < 0) continue;
          last = line.slice(0, colon);
          fields.set(last, line.slice(colon + 1).trim());
        }
      }
      if (!fields.get('Status')?.endsWith(' installed')) continue;
      const pkg: DpkgPackage = {
        name: fields.get('Package') ?? '',
        arch: fields.get('Architecture') ?? '',
        version: fields.get('Version') ?? '',
        essential: fields.get('Essential') === 'yes',
        priority: fields.get('Priority') ?? '',
        depends: [fields.get('Pre-Depends'), fields.get('Depends')].filter(Boolean).join(', '),
        provides: (fields.get('Provides') ?? '')
          .split(',')
          .map((p) => p.trim().split(/\s/)[0]!)
          .filter(Boolean),
      };
      this.packages.set(pkg.name, pkg);
      for (const virtual of pkg.provides) this.providers.set(virtual, [...(this.providers.get(virtual) ?? []), pkg.name]);
    }
  }

  /** The installed package that satisfies a dependency name (itself, or a provider of it). */
  resolve(name: string): string | undefined {
    const bare = name.replace(/:(any|native|amd64|i386|arm64)$/, '');
    if (this.packages.has(bare)) return bare;
    return this.providers.get(bare)?.[0];
  }

  /** `roots` with everything they depend on (Pre-Depends and Depends; the first installed alternative). */
  closure(roots: Iterable<string>): Set<string> {
    const out = new Set<string>();
    const queue = [...roots];
    while (queue.length > 0) {
      const name = queue.pop()!;
      if (out.has(name)) continue;
      const pkg = this.packages.get(name);
      if (!pkg) continue;
      out.add(name);
      for (const group of pkg.depends
        .split(',')
        .map((g) => g.trim())
        .filter(Boolean)) {
        const alternatives = group.split('|').map((a) => a.trim().split(/[\s(]/)[0]!);
        const chosen = alternatives.map((a) => this.resolve(a)).find((a) => a !== undefined);
        if (!chosen) throw new ImageBuildError(`${name} depends on ${group}, which is not installed on this machine`);
        queue.push(chosen);
      }
    }
    return out;
  }

  files(name: string): string[] {
    const pkg = this.packages.get(name)!;
    for (const file of [`/var/lib/dpkg/info/${name}:${pkg.arch}.list`, `/var/lib/dpkg/info/${name}.list`]) {
      if (existsSync(file)) return readFileSync(file, 'utf8').split('\n').filter(Boolean);
    }
    return [];
  }

  /** What a minimal Debian image (debootstrap minbase) holds: Essential and required packages. */
  baseSystem(): string[] {
    return [...this.packages.values()].filter((p) => p.essential || p.priority === 'required').map((p) => p.name);
  }
}

// ---- npm packages from this checkout -------------------------------------------------------------------------

interface NpmSource {
  name: string;
  /** Real directory of the package. */
  dir: string;
  version: string;
  /** A workspace package of this checkout (not under node_modules): provided from its sources when not built. */
  workspace: boolean;
}

/** Finds `name` the way Node would from `fromDir`: the nearest `node_modules/<name>` up the tree. */
function findPackage(name: string, fromDir: string): NpmSource | undefined {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', ...name.split('/'));
    if (existsSync(join(candidate, 'package.json'))) {
      const real = realpathSync(candidate);
      const manifest = JSON.parse(readFileSync(join(real, 'package.json'), 'utf8')) as { version?: string };
      return { name, dir: real, version: manifest.version ?? '', workspace: !real.split(sep).includes('node_modules') };
    }
    if (dirname(dir) === dir) return undefined;
  }
}

interface Manifest {
  version?: string;
  bin?: string | Record<string, string>;
  files?: string[];
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

const manifestOf = (dir: string) => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;

/** Where the emulator looks for npm packages: this package's checkout (its node_modules, up the tree). */
const SEARCH_FROM = dirname(fileURLToPath(import.meta.url));

// ---- building ----------------------------------------------------------------------------------------------

/** Directories of a package tree that an image leaves out (as a slim image does). */
const SKIPPED_PREFIXES = ['/usr/share/doc/', '/usr/share/man/', '/usr/share/info/', '/usr/share/lintian/', '/etc/', '/var/'];

export function defaultImageCacheDir(): string {
  return (
    process.env['DREAMCORE_MODAL_IMAGE_CACHE'] || join(process.env['XDG_CACHE_HOME'] || join(homedir(), '.cache'), 'dreamcore', 'modal-emulator', 'images')
  );
}

export class ImageBuilder {
  private dpkg: Dpkg | undefined;
  private readonly building = new Map<string, Promise<BuiltImage>>();

  constructor(private readonly cacheDir = defaultImageCacheDir()) {}

  /** Builds (or finds built) the image a recipe describes; ImageBuildError when it cannot be built here. */
  async build(recipe: ImageRecipe): Promise<BuiltImage> {
    const plan = this.plan(recipe);
    const key = plan.key;
    let pending = this.building.get(key);
    if (!pending) {
      pending = this.materialise(plan).finally(() => this.building.delete(key));
      this.building.set(key, pending);
    }
    return pending;
  }

  private plan(recipe: ImageRecipe) {
    const dpkg = (this.dpkg ??= new Dpkg());
    const debian = readFileSync('/etc/debian_version', 'utf8').trim();
    if (!/^12(\.|$)/.test(debian))
      throw new ImageBuildError(`${recipe.base} is Debian 12 (bookworm); this machine is Debian ${debian}, so the emulator cannot provide it`);
    const roots = new Set(dpkg.baseSystem());
    const node = recipe.base === 'node:20-bookworm-slim' ? dpkg.packages.get('nodejs') : undefined;
    if (recipe.base === 'node:20-bookworm-slim') {
      if (!node || !/^20\./.test(node.version)) {
        throw new ImageBuildError(`node:20-bookworm-slim needs Node 20 on this machine (the nodejs package); found ${node ? node.version : 'none'}`);
      }
      // What the node binary itself needs (the official image has no python, which the Debian package pulls in).
      for (const name of ['libc6', 'libstdc++6']) roots.add(name);
    }
    for (const spec of recipe.apt) {
      const [name, pinned] = spec.split('=') as [string, string | undefined];
      const resolved = dpkg.resolve(name);
      if (!resolved) {
        throw new ImageBuildError(
          `apt-get install ${name}: not installed on this machine, so the emulator cannot provide it (install it here, or leave it out of the recipe)`,
        );
      }
      const version = dpkg.packages.get(resolved)!.version;
      if (pinned && pinned !== version) throw new ImageBuildError(`apt-get install ${spec}: this machine has ${name} ${version}, not ${pinned}`);
      roots.add(resolved);
    }
    const packages = [...dpkg.closure(roots)].sort();
    const npm = recipe.npm.map(({ name, version }) => {
      const source = findPackage(name, SEARCH_FROM);
      if (!source)
        throw new ImageBuildError(`npm install -g ${name}@${version}: ${name} is not in this checkout's node_modules, so the emulator cannot provide it`);
      if (source.version !== version) {
        throw new ImageBuildError(`npm install -g ${name}@${version}: this checkout has ${name} ${source.version}; pin that version (or update the checkout)`);
      }
      return source;
    });
    const fingerprint = {
      format: 1,
      base: recipe.base,
      node: node?.version,
      packages: packages.map((name) => `${name}=${dpkg.packages.get(name)!.version}`),
      npm: npm.flatMap((source) =>
        npmClosure(source).map(({ dep, at }) => ({ at, version: dep.version, dir: dep.dir, files: dep.workspace ? workspaceStamp(dep.dir) : undefined })),
      ),
      checks: recipe.checks,
      prepares: recipe.prepares,
    };
    const key = createHash('sha256').update(JSON.stringify(fingerprint)).digest('hex').slice(0, 24);
    return { key, recipe, packages, npm, node };
  }

  private async materialise(plan: ReturnType<ImageBuilder['plan']>): Promise<BuiltImage> {
    const final = join(this.cacheDir, plan.key);
    const env = { ...plan.recipe.env };
    if (plan.npm.some((source) => source.workspace && !existsSync(join(source.dir, 'dist')))) env['NODE_OPTIONS'] = '--conditions=source';
    if (existsSync(join(final, 'usr'))) return { root: final, env };
    await mkdir(this.cacheDir, { recursive: true });
    // One builder per image on this machine: other emulators (other test files) wait for it instead of repeating it.
    if (!(await takeLock(`${final}.lock`))) {
      await waitFor(() => existsSync(join(final, 'usr')) || !existsSync(`${final}.lock`));
      return this.materialise(plan);
    }
    try {
      return await this.materialiseLocked(plan, final, env);
    } finally {
      await rm(`${final}.lock`, { recursive: true, force: true });
    }
  }

  private async materialiseLocked(plan: ReturnType<ImageBuilder['plan']>, final: string, env: Record<string, string>): Promise<BuiltImage> {
    if (existsSync(join(final, 'usr'))) return { root: final, env };
    const staging = join(this.cacheDir, `${plan.key}.building-${randomBytes(4).toString('hex')}`);
    try {
      const tree = new Tree(staging);
      const dpkg = this.dpkg!;
      for (const name of plan.packages) {
        for (const file of dpkg.files(name)) {
          if (SKIPPED_PREFIXES.some((prefix) => file.startsWith(prefix)) || file === '/.') continue;
          await tree.addHostPath(file);
        }
      }
      if (plan.node) {
        // The official node image: node and npm under /usr/local.
        for (const file of dpkg.files('nodejs')) {
          if (file === '/usr/bin/node' || file === '/usr/bin/npm' || file === '/usr/bin/npx') await tree.addHostPath(file, `/usr/local/bin/${basename(file)}`);
          else if (file.startsWith('/usr/lib/node_modules/npm')) await tree.addHostPath(file, file.replace('/usr/lib/', '/usr/local/lib/'));
        }
      }
      for (const source of plan.npm) await addNpmPackage(tree, source);
      for (const command of plan.recipe.checks) {
        if (!['usr/local/bin', 'usr/bin', 'usr/sbin', 'bin', 'sbin'].some((dir) => existsSync(join(staging, dir, command)))) {
          throw new ImageBuildError(`${command} --version: ${command} is not on the image's PATH`);
        }
      }
      for (const cacheDir of plan.recipe.prepares) await prepareRender(tree, cacheDir);
      await rename(staging, final).catch(async (error: NodeJS.ErrnoException) => {
        // Another emulator built the same image meanwhile: theirs is as good as ours.
        if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
        await rm(staging, { recursive: true, force: true });
      });
      return { root: final, env };
    } catch (error) {
      await rm(staging, { recursive: true, force: true }).catch(() => undefined);
      throw error;
    }
  }
}

/** A lock directory; a lock older than ten minutes is left from a crash and taken over. */
async function takeLock(lock: string): Promise<boolean> {
  try {
    await mkdir(lock);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const age = Date.now() - ((await stat(lock).catch(() => undefined))?.mtimeMs ?? Date.now());
    if (age < 10 * 60_000) return false;
    await rm(lock, { recursive: true, force: true });
    return takeLock(lock);
  }
}

async function waitFor(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((resolve) => setTimeout(resolve, 250));
}

/** Sizes and times of a workspace package's own files (not its node_modules): a source edit makes a new image. */
function workspaceStamp(dir: string): string {
  const hash = createHash('sha256');
  const visit = (at: string) => {
    for (const entry of readdirSync(at, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
      const path = join(at, entry.name);
      if (entry.isDirectory()) visit(path);
      else if (entry.isFile()) {
        const info = statSync(path);
        hash.update(`${relative(dir, path)}:${info.size}:${info.mtimeMs}\n`);
      }
    }
  };
  visit(dir);
  return hash.digest('hex');
}

/** An image tree being built: paths are added by hard link (same filesystem) or copy, parents made as needed. */
class Tree {
  constructor(readonly root: string) {}

  /** Adds the host file, directory or link at `hostPath` to the image at `imagePath` (default: the same place). */
  async addHostPath(hostPath: string, imagePath = hostPath): Promise<void> {
    // The merged tops themselves (/bin → usr/bin) are links the sandbox makes, not part of the tree.
    if (MERGED.has(imagePath.slice(1))) return;
    const info = await lstat(hostPath).catch(() => undefined);
    if (!info) return; // listed by dpkg but removed since (e.g. by a maintainer script)
    // Merged /usr: /bin/sh is usr/bin/sh in the tree; the image's /bin is a link, as on this machine.
    const target = join(this.root, canonical(imagePath));
    if (info.isDirectory()) {
      await mkdir(target, { recursive: true, mode: 0o755 });
      return;
    }
    await mkdir(dirname(target), { recursive: true, mode: 0o755 });
    if (existsSync(target) || isLink(target)) return;
    if (info.isSymbolicLink()) {
      await symlink(await readlink(hostPath), target);
      return;
    }
    if (!info.isFile()) return;
    await link(hostPath, target).catch(() => copyFile(hostPath, target));
  }

  /** Copies a whole directory tree in (links kept as links). */
  async addDir(hostDir: string, imageDir: string, skip: (name: string, depth: number) => boolean = () => false, depth = 0): Promise<void> {
    await this.addHostPath(hostDir, imageDir);
    for (const entry of readdirSync(hostDir, { withFileTypes: true })) {
      if (skip(entry.name, depth)) continue;
      const from = join(hostDir, entry.name);
      const to = posix.join(imageDir, entry.name);
      if (entry.isDirectory()) await this.addDir(from, to, skip, depth + 1);
      else await this.addHostPath(from, to);
    }
  }

  async write(imagePath: string, content: string, mode = 0o644): Promise<void> {
    const target = join(this.root, imagePath);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, content, { mode });
  }

  async link(imagePath: string, to: string): Promise<void> {
    const target = join(this.root, imagePath);
    await mkdir(dirname(target), { recursive: true });
    await rm(target, { force: true });
    await symlink(to, target);
  }
}

/** `/bin/x` → `/usr/bin/x` where this machine's `/bin` is a link into `/usr` (merged /usr). */
function canonical(path: string): string {
  const top = path.split('/')[1] ?? '';
  if (!MERGED.has(top)) return path;
  const target = MERGED.get(top);
  return target === undefined ? path : posix.join('/', target, path.slice(top.length + 2));
}

/** This machine's top-level directories that are links into /usr, and where they point (`bin` → `usr/bin`). */
const MERGED = new Map(
  ['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32'].flatMap((top) => {
    try {
      return lstatSync(`/${top}`).isSymbolicLink() ? [[top, readlinkSync(`/${top}`).replace(/^\//, '')] as const] : [];
    } catch {
      return [];
    }
  }),
);

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/**
 * `npm install -g`: the package at /usr/local/lib/node_modules/<name> with its dependency closure under its own
 * node_modules, and its bins in /usr/local/bin. A workspace package of this checkout is provided as it would be
 * published (package.json `files`), with its sources and tsx when it has not been built.
 */
async function addNpmPackage(tree: Tree, source: NpmSource): Promise<void> {
  const home = `/usr/local/lib/node_modules/${source.name}`;
  for (const { dep, at } of npmClosure(source)) await addPackageFiles(tree, dep, at);
  const bin = manifestOf(source.dir).bin;
  const bins = typeof bin === 'string' ? { [source.name.split('/').pop()!]: bin } : (bin ?? {});
  for (const [name, file] of Object.entries(bins)) await tree.link(`/usr/local/bin/${name}`, posix.join(home.replace('/usr/local/', '../'), file));
}

/**
 * The package and everything it depends on, each with where it goes in the image: one copy of each dependency flat
 * under the package's node_modules; a second version nests under the one that needs it. A workspace package that has
 * not been built brings tsx, to run its sources.
 */
function npmClosure(source: NpmSource): { dep: NpmSource; at: string }[] {
  const home = `/usr/local/lib/node_modules/${source.name}`;
  const out = [{ dep: source, at: home }];
  const placed = new Map<string, string>([[source.name, source.dir]]);
  const queue: { from: NpmSource; into: string }[] = [{ from: source, into: home }];
  while (queue.length > 0) {
    const { from, into } = queue.shift()!;
    const fromSources = from.workspace && !existsSync(join(from.dir, 'dist'));
    for (const name of dependencyNames(from.dir, fromSources)) {
      const dep = findPackage(name, from.dir) ?? (fromSources ? findPackage(name, SEARCH_FROM) : undefined);
      if (!dep) continue; // an optional dependency for another platform
      const already = placed.get(name);
      if (already === dep.dir) continue;
      const at = already === undefined ? `${home}/node_modules/${name}` : `${into}/node_modules/${name}`;
      if (already === undefined) placed.set(name, dep.dir);
      out.push({ dep, at });
      queue.push({ from: dep, into: at });
    }
  }
  return out;
}

function dependencyNames(dir: string, fromSources: boolean): string[] {
  const manifest = manifestOf(dir);
  const peers = Object.keys(manifest.peerDependencies ?? {}).filter((name) => !manifest.peerDependenciesMeta?.[name]?.optional);
  const names = [...Object.keys(manifest.dependencies ?? {}), ...Object.keys(manifest.optionalDependencies ?? {}), ...peers];
  return fromSources ? [...names, 'tsx'] : names;
}

async function addPackageFiles(tree: Tree, source: NpmSource, at: string): Promise<void> {
  if (!source.workspace) {
    await tree.addDir(source.dir, at, (name, depth) => depth === 0 && name === 'node_modules');
    return;
  }
  const manifest = manifestOf(source.dir);
  const built = existsSync(join(source.dir, 'dist'));
  const entries = new Set(['package.json', 'README.md', ...(manifest.files ?? [])]);
  if (!built) for (const extra of ['src', 'tsconfig.json']) entries.add(extra);
  for (const entry of entries) {
    const from = join(source.dir, entry);
    if (!existsSync(from)) continue;
    if ((await stat(from)).isDirectory()) await tree.addDir(from, posix.join(at, entry));
    else await tree.addHostPath(from, posix.join(at, entry));
  }
}

/** `dreamcore-render --prepare --cache-dir <dir>`: the media package's own command, run here, its output in the image. */
async function prepareRender(tree: Tree, cacheDir: string): Promise<void> {
  const bin = join(tree.root, 'usr/local/bin/dreamcore-render');
  if (!isLink(bin))
    throw new ImageBuildError('dreamcore-render --prepare: dreamcore-render is not installed in the image (npm install -g @dreamcore/media@<version> first)');
  const target = join(tree.root, cacheDir);
  await mkdir(target, { recursive: true });
  const source = findPackage('@dreamcore/media', SEARCH_FROM)!;
  try {
    await execFileAsync(process.execPath, ['--conditions=source', join(source.dir, 'bin', 'dreamcore-render.js'), '--prepare', '--cache-dir', target], {
      timeout: 300_000,
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new ImageBuildError(`dreamcore-render --prepare failed: ${(e.stdout || e.stderr || e.message).trim().slice(-500)}`);
  }
}
