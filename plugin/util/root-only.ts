/**
 * Is this code safe for root to run? libvirtd runs hooks as root, and the hook
 * launches the managers as root, so anyone who can change the Node.js binary,
 * the hook entry or any file of the package it loads can run code as root.
 *
 * A path is writable by a non-root user when the path itself or any directory
 * above it (whoever may write a directory may replace what is in it):
 *   - is owned by a user other than root (the owner can chmod it),
 *   - is group-writable with a group other than root's,
 *   - is world-writable (a directory with the sticky bit, like /tmp, is fine:
 *     nobody but root may rename or delete root's entries in it).
 * Symbolic links are followed: the link's own directories and its target's
 * are both checked. POSIX ACLs and capabilities are not looked at.
 *
 * Cost: one lstat per file of the trees walked (a global install of hmmv is a
 * few thousand files; a development checkout with its devDependencies ~20k).
 */
import { existsSync, lstatSync, readdirSync, readlinkSync, realpathSync, type Stats } from 'node:fs';
import path from 'node:path';

export interface UnsafePath {
  path: string;
  /** Why a non-root user could change it. */
  reason: string;
}

const S_ISVTX = 0o1000;

function weakness(st: Stats): string | undefined {
  if (st.isSymbolicLink()) return undefined; // its target is checked; a link's own mode means nothing
  if (st.uid !== 0) return `is owned by uid ${st.uid}, not root`;
  if (st.mode & 0o020 && st.gid !== 0) return `is writable by group ${st.gid}`;
  if (st.mode & 0o002 && !(st.isDirectory() && st.mode & S_ISVTX)) return 'is writable by everyone';
  return undefined;
}

/** The path and every directory above it, lexically and through symbolic links. */
function checkChain(target: string, seen: Set<string>): UnsafePath | undefined {
  const abs = path.resolve(target);
  const parts = abs.split(path.sep).filter(Boolean);
  let at: string = path.sep;
  for (let i = 0; i <= parts.length; i++) {
    if (i > 0) at = path.join(at, parts[i - 1]!);
    if (seen.has(at)) continue;
    seen.add(at);
    let st: Stats;
    try {
      st = lstatSync(at);
    } catch (error) {
      return { path: at, reason: `cannot be checked (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})` };
    }
    const why = weakness(st);
    if (why) return { path: at, reason: why };
    if (st.isSymbolicLink()) {
      const next = path.resolve(path.dirname(at), readlinkSync(at));
      const bad = checkChain(next, seen);
      if (bad) return { path: bad.path, reason: `${bad.reason} (reached through the link ${at})` };
    }
  }
  return undefined;
}

/** Every file and directory under `root` (not following links out of it, but checking their targets). */
function checkTree(root: string, seen: Set<string>): UnsafePath | undefined {
  const stack = [root];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (error) {
      return { path: dir, reason: `cannot be listed (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})` };
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      const st = lstatSync(p);
      const why = weakness(st);
      if (why) return { path: p, reason: why };
      if (st.isSymbolicLink()) {
        const bad = checkChain(realpathSync(p), seen);
        if (bad) return { path: bad.path, reason: `${bad.reason} (reached through the link ${p})` };
      } else if (st.isDirectory()) stack.push(p);
    }
  }
  return undefined;
}

/**
 * The first path a non-root user could change among: each of `files` with the
 * directories above it, and everything inside each of `trees` (with the
 * directories above each tree). Undefined when all are root's alone.
 */
export function findNonRootWritable(files: readonly string[], trees: readonly string[] = []): UnsafePath | undefined {
  const seen = new Set<string>();
  for (const f of files) {
    const bad = checkChain(f, seen) ?? checkChain(realpathSync(f), seen);
    if (bad) return bad;
  }
  for (const t of trees) {
    const bad = checkChain(t, seen) ?? checkTree(realpathSync(t), seen);
    if (bad) return bad;
  }
  return undefined;
}

/**
 * For code root will run from an installed hmmv: node, the entry file, and the
 * package's package.json, dist/, node_modules/ and schemas/.
 */
export function findNonRootWritableInstall(node: string, entry: string, packageRoot: string): UnsafePath | undefined {
  const trees = ['dist', 'node_modules', 'schemas'].map((d) => path.join(packageRoot, d)).filter((d) => existsSync(d));
  return findNonRootWritable([node, entry, path.join(packageRoot, 'package.json')], trees);
}
