/**
 * Writes the experiment's files into the output folder so that a reader never
 * sees half a file: each is written under a temporary name in the same folder
 * and renamed into place (rename is atomic within one file system).
 */
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

export async function writeOutputs(dir: string, files: Readonly<Record<string, string>>): Promise<string[]> {
  const folder = resolve(dir);
  const existing = await stat(folder).catch(() => undefined);
  if (existing && !existing.isDirectory()) throw new Error(`output folder ${folder} exists and is not a folder`);
  await mkdir(folder, { recursive: true });
  const temps: [string, string][] = [];
  try {
    for (const [name, content] of Object.entries(files)) {
      const tmp = join(folder, `.${name}.tmp-${process.pid}`);
      await writeFile(tmp, content);
      temps.push([tmp, join(folder, name)]);
    }
    for (const [tmp, final] of temps) await rename(tmp, final);
  } catch (err) {
    await Promise.all(temps.map(([tmp]) => rm(tmp, { force: true })));
    throw err;
  }
  return temps.map(([, final]) => final);
}
