/**
 * The files capability's work inside the sandbox, as JavaScript source the command helper runs itself (no process
 * start per operation) and, where there is no helper, a `node -e` exec runs (helper.ts, BUILTIN_RUNNER): one
 * implementation either way.
 *
 * `@scope <root> <relative> <op> [arg]` resolves the path exactly as runtime-core's `resolveInsideRoot` does on the
 * local disk: the target, or else its deepest existing ancestor, must have a real path equal to the scope root or
 * below `root + '/'`, and a dangling symlink anywhere on the way is refused. The scope root is
 * `/vol/projects/{projectId}` or `/vol/assets`, so a link to another project of the same user, to the asset space, to
 * /vol or to /etc is outside. Then <op>:
 *   exists              prints 1 or 0
 *   stat                prints `{ kind, size, mtimeMs }` of the path itself (a symlink is a symlink)
 *   read <maxBytes>     prints the bytes of the checked real path (opened non-blocking, and the file actually opened
 *                       is checked to be inside the root: a symlink swapped in after the check cannot lead out)
 *   list <0|1>          prints `[[path, kind, size, mtimeMs], ...]` below the path (recursive with 1; `.git` skipped)
 *   delete              removes the path (a symlink itself, never what it points to)
 *   write <tempfile>    the content (stdin) goes to a temporary file in the backend's own `/vol/.tmp`, then is renamed
 *                       into place: a reader never sees half a file, and a symlink at the target is replaced, never
 *                       written through (the same semantics as the local backend's write)
 * Durability is not done here: a write or delete is followed by a `sync /vol` step in the same request (files.ts).
 * `@projects <dir>` prints the names of the directories in <dir> (none when it does not exist), one a line.
 *
 * Exit codes: 3 denied (a symlink leaves the scope), 4 not found, 5 conflict (a directory where a file is needed or
 * the reverse), 6 too large (the size is printed), 64 bad op, 71 the operation failed.
 *
 * Plain ES2020 CommonJS with no outside names but `require`: it runs inside the helper's script and in a bare `node -e`.
 */
export const SCOPE_EXIT = { denied: 3, notFound: 4, conflict: 5, tooLarge: 6 } as const;

export const SCOPE_OPS_SOURCE = String.raw`(function () {
  const fs = require('fs');
  const KIND = (s) => (s.isDirectory() ? 'directory' : s.isSymbolicLink() ? 'symlink' : 'file');
  const real = (p) => {
    try {
      return fs.realpathSync.native(p);
    } catch (error) {
      return null;
    }
  };
  const lstat = (p) => {
    try {
      return fs.lstatSync(p);
    } catch (error) {
      return null;
    }
  };
  const parent = (p) => p.slice(0, p.lastIndexOf('/')) || '/';
  // The root's real path; a root not made yet resolves as far as it exists (realpath -m).
  const realRoot = (p) => {
    const found = real(p);
    if (found !== null || p === '/') return found || '/';
    const up = realRoot(parent(p));
    return (up === '/' ? '' : up) + p.slice(p.lastIndexOf('/'));
  };
  class Exit {
    constructor(code, out) {
      this.code = code;
      this.out = out || '';
    }
  }
  const out = (code, text) => {
    throw new Exit(code, text);
  };
  const scope = (rootArg, rel, op, arg, stdin) => {
    const root = realRoot(rootArg);
    const inside = (p) => p === root || p.startsWith(root + '/');
    const abs = rel === '' ? root : root + '/' + rel;
    let resolved = real(abs);
    const exists = resolved !== null;
    let notdir = false;
    if (!exists) {
      let p = abs;
      while (p !== root && p !== '/') {
        // A dangling symlink exists but has no real path: refused, never written through.
        const link = lstat(p);
        if (link && link.isSymbolicLink()) out(3);
        p = parent(p);
        resolved = real(p);
        if (resolved !== null) {
          const s = lstat(resolved);
          notdir = !(s && s.isDirectory());
          break;
        }
      }
    }
    if (resolved !== null && !inside(resolved)) out(3);
    switch (op) {
      case 'exists':
        return exists ? '1' : '0';
      case 'stat': {
        if (notdir) out(5);
        if (!exists) out(4);
        const s = lstat(abs) || out(4);
        return JSON.stringify({ kind: KIND(s), size: s.size, mtimeMs: s.mtimeMs });
      }
      case 'read': {
        if (notdir) out(5);
        if (!exists) out(4);
        let fd;
        try {
          fd = fs.openSync(resolved, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
        } catch (error) {
          // Removed since the check (an agent working in the tree): not found, as it would have been a moment later.
          out(error.code === 'ENOENT' ? 4 : 71, '');
        }
        try {
          let opened = null;
          try {
            opened = fs.readlinkSync('/proc/self/fd/' + fd);
          } catch (error) {
            // no names for descriptors here: the check above decided
          }
          if (opened !== null && !inside(opened)) out(3);
          const s = fs.fstatSync(fd);
          if (!s.isFile()) out(5);
          if (s.size > Number(arg)) out(6, String(s.size));
          return fs.readFileSync(fd);
        } finally {
          fs.closeSync(fd);
        }
      }
      case 'list': {
        if (notdir) out(5);
        if (!exists) out(4);
        const top = lstat(resolved);
        if (!top || !top.isDirectory()) out(5);
        const entries = [];
        const visit = (dir, prefix) => {
          let names;
          try {
            names = fs.readdirSync(dir);
          } catch (error) {
            return; // gone meanwhile, or not readable
          }
          for (const name of names) {
            if (name === '.git') continue;
            const s = lstat(dir + '/' + name);
            if (!s) continue;
            const path = prefix + name;
            entries.push([path, KIND(s), s.size, s.mtimeMs]);
            if (arg === '1' && s.isDirectory()) visit(dir + '/' + name, path + '/');
          }
        };
        visit(resolved, '');
        return JSON.stringify(entries);
      }
      case 'delete': {
        if (notdir) out(5);
        if (!lstat(abs)) out(4);
        try {
          fs.rmSync(abs, { recursive: true, force: true });
        } catch (error) {
          out(71, '');
        }
        return '';
      }
      case 'write': {
        const temp = arg;
        try {
          fs.mkdirSync(parent(temp), { recursive: true, mode: 0o700 });
          fs.writeFileSync(temp, stdin);
        } catch (error) {
          out(71);
        }
        try {
          if (notdir) out(5);
          const at = lstat(abs);
          if (at && at.isDirectory()) out(5);
          try {
            fs.mkdirSync(parent(abs), { recursive: true });
            fs.renameSync(temp, abs);
          } catch (error) {
            out(5);
          }
        } catch (exit) {
          try {
            fs.unlinkSync(temp);
          } catch (error) {
            // not there
          }
          throw exit;
        }
        return '';
      }
      default:
        return out(64);
    }
  };
  const projects = (dir) => {
    let entries;
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch (error) {
      if (error.code === 'ENOENT') return '';
      throw error;
    }
    // Directories only: a symlink an agent made is not a project.
    return entries
      .filter((e) => e.isDirectory())
      .map((e) => e.name + '\n')
      .join('');
  };
  const answer = (fn) => (args, stdin) => {
    try {
      return [0, fn(args, stdin)];
    } catch (error) {
      if (error instanceof Exit) return [error.code, error.out];
      return [71, '', String((error && error.message) || error)];
    }
  };
  return {
    '@scope': answer((args, stdin) => scope(args[0], args[1], args[2], args[3] === undefined ? '' : args[3], stdin)),
    '@projects': answer((args) => projects(args[0])),
  };
})()`;
