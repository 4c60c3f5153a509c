/**
 * Workload knobs: each workload declares its parameters (name, default, range,
 * one-line description); values given on the command line arrive as strings or
 * numbers and are checked here, so a typo or an out-of-range value is an error
 * naming the workload, the parameter and what was expected.
 */
export interface ParamSpec {
  readonly name: string;
  readonly description: string;
  /** Default value; undefined means "derived" (the description says from what). */
  readonly default?: number | string;
  readonly min?: number;
  readonly max?: number;
  readonly integer?: boolean;
  /** For string parameters: the allowed values. */
  readonly choices?: readonly string[];
  /** A free-text parameter (a file name). */
  readonly text?: boolean;
}

export class Params {
  private readonly values = new Map<string, number | string | undefined>();

  constructor(
    readonly workload: string,
    specs: readonly ParamSpec[],
    given: Readonly<Record<string, string | number>> | undefined,
  ) {
    const byName = new Map(specs.map((s) => [s.name, s]));
    for (const name of Object.keys(given ?? {})) {
      if (!byName.has(name)) {
        const known = specs.map((s) => s.name).join(', ') || 'none';
        throw new Error(`workload ${workload}: unknown parameter '${name}' (known: ${known})`);
      }
    }
    for (const spec of specs) {
      const raw = given?.[spec.name];
      this.values.set(spec.name, raw === undefined ? spec.default : check(workload, spec, raw));
    }
  }

  num(name: string): number {
    const v = this.values.get(name);
    if (typeof v !== 'number') throw new Error(`workload ${this.workload}: parameter '${name}' has no numeric value`);
    return v;
  }

  /** A numeric parameter whose default is derived: undefined when not given. */
  optionalNum(name: string): number | undefined {
    const v = this.values.get(name);
    return typeof v === 'number' ? v : undefined;
  }

  str(name: string): string {
    const v = this.values.get(name);
    if (typeof v !== 'string') throw new Error(`workload ${this.workload}: parameter '${name}' has no string value`);
    return v;
  }
}

function check(workload: string, spec: ParamSpec, raw: string | number): number | string {
  const where = `workload ${workload}: parameter '${spec.name}'`;
  if (spec.text) return String(raw);
  if (spec.choices) {
    const s = String(raw);
    if (!spec.choices.includes(s)) throw new Error(`${where} must be one of ${spec.choices.join(', ')}, got '${s}'`);
    return s;
  }
  const v = typeof raw === 'number' ? raw : raw.trim() === '' ? NaN : Number(raw);
  if (!Number.isFinite(v)) throw new Error(`${where} must be a number, got '${raw}'`);
  if (spec.integer && !Number.isInteger(v)) throw new Error(`${where} must be an integer, got ${v}`);
  if (spec.min !== undefined && v < spec.min) throw new Error(`${where} must be >= ${spec.min}, got ${v}`);
  if (spec.max !== undefined && v > spec.max) throw new Error(`${where} must be <= ${spec.max}, got ${v}`);
  return v;
}

/** Largest page count an encoded access can carry (page << 1 in a Uint32). */
export const MAX_PAGES = 2 ** 31;

export function checkPageCount(workload: string, pageCount: number, min: number): void {
  if (!Number.isInteger(pageCount) || pageCount < min || pageCount > MAX_PAGES) {
    throw new Error(`workload ${workload}: pageCount must be an integer in [${min}, ${MAX_PAGES}], got ${pageCount}`);
  }
}

export function checkOutput(workload: string, ops: number, accessesPerOp: number, out: Uint32Array, lines: Uint16Array): void {
  if (!Number.isInteger(ops) || ops < 0) throw new Error(`workload ${workload}: ops must be a non-negative integer, got ${ops}`);
  if (out.length < ops * accessesPerOp) {
    throw new Error(`workload ${workload}: output holds ${out.length} accesses, ${ops} ops need ${ops * accessesPerOp}`);
  }
  if (!(lines instanceof Uint16Array) || lines.length < ops * accessesPerOp) {
    throw new Error(`workload ${workload}: line output holds ${lines?.length ?? 0} descriptors, ${ops} ops need ${ops * accessesPerOp}`);
  }
}

/** The two knobs every workload has (its realistic defaults are documented per workload). */
export function costParams(cpuNsPerOp: number, accessesPerOp: number, minAccesses = 1): ParamSpec[] {
  return [
    { name: 'cpuNsPerOp', default: cpuNsPerOp, min: 0, description: 'CPU time of one operation not spent waiting on memory (ns)' },
    { name: 'accessesPerOp', default: accessesPerOp, min: minAccesses, max: 64, integer: true, description: 'memory accesses (LLC misses) per operation' },
  ];
}
