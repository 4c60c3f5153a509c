/**
 * The JSON Schemas hmmv validates at run time (schemas/NAME.schema.json), the
 * ajv options each one is validated with, and one validator per schema.
 *
 * Why: the libvirt hook, the per-domain manager and `hmmv` commands are short
 * processes; importing ajv and compiling a schema at every start costs tens of
 * milliseconds natively and seconds under emulation. The build therefore
 * compiles every schema ahead of time into dist/schemas/validators/NAME.cjs
 * (ajv "standalone" code, see compile-validators.ts), which needs only ajv's
 * small runtime helpers. `schemaValidator` loads that file, and compiles the
 * schema with ajv at run time instead when the file is missing, unloadable or
 * was made from another version of the schema or options (a tree where only
 * tsc ran, or a schema edited since the build): same verdicts either way.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Ajv, ErrorObject, Options } from 'ajv';

/** The pool's three schemas share one set of options (they were compiled by one Ajv). */
const POOL_OPTIONS: Options = { allErrors: false, discriminator: true, useDefaults: true };

/**
 * Every schema and its ajv options, exactly as its caller needs them:
 * error lists, defaults filled into the data, text coerced to numbers.
 */
export const SCHEMA_OPTIONS = {
  /** plugin/libvirt/tiering-metadata.ts: every problem at once. */
  'tiering-metadata': { allErrors: true },
  /** plugin/pool/wire.ts: first error only; `type` picks the message's branch; defaults filled in. */
  'pool-client-message': POOL_OPTIONS,
  'pool-server-message': POOL_OPTIONS,
  /** plugin/pool/config.ts: defaults filled into the config. */
  'pool-config': POOL_OPTIONS,
  /** plugin/sim/trace/header.ts: header values are text, coerced to the schema's types. */
  'trace-header': { coerceTypes: true, allErrors: true },
} as const satisfies Record<string, Options>;

export type SchemaName = keyof typeof SCHEMA_OPTIONS;
export const SCHEMA_NAMES = Object.keys(SCHEMA_OPTIONS) as SchemaName[];

/** What callers use of an ajv validate function (a standalone module exports the same shape). */
export interface SchemaValidator {
  (data: unknown): boolean;
  errors?: ErrorObject[] | null;
}

export type ValidatorOrigin = 'precompiled' | 'runtime';

const require = createRequire(import.meta.url);

/** schemas/ of the package (this file is dist/plugin/util/schema-validators.js). */
export const schemaFile = (name: SchemaName): string => fileURLToPath(new URL(`../../../schemas/${name}.schema.json`, import.meta.url));

/** Where the build writes the precompiled validators: dist/schemas/validators/. */
export const VALIDATORS_DIR = fileURLToPath(new URL('../../schemas/validators/', import.meta.url));

export const validatorFile = (name: SchemaName, dir = VALIDATORS_DIR): string => `${dir.replace(/\/?$/, '/')}${name}.cjs`;

const schemaText = (name: SchemaName): string => readFileSync(schemaFile(name), 'utf8');

export function readSchema(name: SchemaName): object {
  return JSON.parse(schemaText(name)) as object;
}

/**
 * What a precompiled validator was made from: the options and the schema's
 * text, kept whole in the file (a string compare costs less at start than
 * loading node:crypto to hash it). A validator whose stamp differs from the
 * current one is stale.
 */
function stampOf(name: SchemaName, text: string): string {
  return `${JSON.stringify(SCHEMA_OPTIONS[name])}\n${text}`;
}

/** The schema compiled by ajv now, with its options (the fallback, and the reference the tests compare with). */
export function compileValidator(name: SchemaName): SchemaValidator {
  const { Ajv: AjvClass } = require('ajv') as { Ajv: typeof Ajv };
  return new AjvClass({ ...SCHEMA_OPTIONS[name] }).compile(readSchema(name)) as SchemaValidator;
}

/**
 * The precompiled validator in `dir` if it is there, loads and matches the
 * current schema and options; otherwise the schema compiled at run time.
 */
export function loadValidator(name: SchemaName, dir = VALIDATORS_DIR): { validate: SchemaValidator; origin: ValidatorOrigin } {
  try {
    const mod = require(validatorFile(name, dir)) as SchemaValidator & { schemaStamp?: unknown };
    if (typeof mod === 'function' && mod.schemaStamp === stampOf(name, schemaText(name))) return { validate: mod, origin: 'precompiled' };
  } catch {
    // Missing or unloadable: compile below.
  }
  return { validate: compileValidator(name), origin: 'runtime' };
}

const cache = new Map<SchemaName, SchemaValidator>();

/** The validator of schemas/NAME.schema.json (loaded or compiled once per process). */
export function schemaValidator(name: SchemaName): SchemaValidator {
  let v = cache.get(name);
  if (!v) {
    v = loadValidator(name).validate;
    cache.set(name, v);
  }
  return v;
}

type StandaloneCode = (ajv: Ajv, validate: SchemaValidator) => string;

/**
 * The source of dist/schemas/validators/NAME.cjs: ajv's standalone code of the
 * schema, compiled with the same options, as CommonJS (so its
 * require('ajv/dist/runtime/...') calls resolve from the package), stamped
 * with what it was made from.
 */
export function standaloneValidatorCode(name: SchemaName): string {
  const { Ajv: AjvClass } = require('ajv') as { Ajv: typeof Ajv };
  const standaloneCode = (require('ajv/dist/standalone') as { default: StandaloneCode }).default;
  const text = schemaText(name);
  const ajv = new AjvClass({ ...SCHEMA_OPTIONS[name], code: { source: true, esm: false } });
  const validate = ajv.compile(JSON.parse(text) as object) as SchemaValidator;
  return (
    `// Generated by plugin/util/compile-validators.ts from schemas/${name}.schema.json\n` +
    `// with ajv options ${JSON.stringify(SCHEMA_OPTIONS[name])}. Do not edit: run the build.\n` +
    `${standaloneCode(ajv, validate)}\n` +
    `module.exports.schemaStamp = ${JSON.stringify(stampOf(name, text))};\n`
  );
}
