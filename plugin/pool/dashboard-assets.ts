/**
 * The dashboard's static files (plugin/pool/dashboard/), served as they are:
 * plain HTML, CSS and an ES module, no build step.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from './wire.js';

const FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/dashboard.js': { file: 'dashboard.js', type: 'text/javascript; charset=utf-8' },
  '/history.js': { file: 'history.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard.css': { file: 'dashboard.css', type: 'text/css; charset=utf-8' },
};

export function dashboardAsset(path: string): { type: string; body: Buffer } | undefined {
  const f = FILES[path];
  if (!f) return undefined;
  return { type: f.type, body: readFileSync(join(packageRoot(), 'plugin', 'pool', 'dashboard', f.file)) };
}
