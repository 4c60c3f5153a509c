/**
 * Build step (`node dist/plugin/util/compile-validators.js`, run by `npm run
 * build` and `prepack` after tsc): compiles every schema of
 * schema-validators.ts into dist/schemas/validators/NAME.cjs, ajv standalone
 * code, so the hook, the manager and `hmmv` commands load a ready validator
 * instead of importing ajv and compiling the schema at every start. Each file
 * is checked to load as the current validator before the step succeeds.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { SCHEMA_NAMES, VALIDATORS_DIR, loadValidator, standaloneValidatorCode, validatorFile } from './schema-validators.js';

/** Writes one .cjs per schema into `dir`; returns the files written. */
export function writeValidators(dir = VALIDATORS_DIR): string[] {
  mkdirSync(dir, { recursive: true });
  return SCHEMA_NAMES.map((name) => {
    const file = validatorFile(name, dir);
    writeFileSync(file, standaloneValidatorCode(name));
    if (loadValidator(name, dir).origin !== 'precompiled') throw new Error(`${file} was written but does not load as the validator of ${name}`);
    return file;
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const files = writeValidators();
  process.stdout.write(`compiled ${files.length} schema validators into ${VALIDATORS_DIR}\n`);
}
