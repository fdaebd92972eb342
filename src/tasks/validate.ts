// Parameter validation: each task type declares a JSON Schema (built with TypeBox); Ajv checks
// it, and the first violation becomes the protocol's error (`missing<Param>`, `invalid<Param>`
// with `type`, `min`/`max`/`multiplier` or `allowedValues`).

import { Ajv, type ErrorObject as AjvError, type ValidateFunction } from 'ajv';
import { Type, type TSchema, type Static, type TUnsafe } from '@sinclair/typebox';
import { ProtocolError, invalidCode, invalidCountCode, missingCode, type ErrorObject } from '../protocol/errors.js';

// strictNumbers: JSON allows 1e999, which parses to Infinity; without it Ajv counts Infinity as an
// integer, and parameters with no maximum (offset, ttl) would accept it.
const ajv = new Ajv({
  allErrors: false,
  verbose: true,
  strict: false,
  strictNumbers: true,
  coerceTypes: false,
  useDefaults: false,
});

/** Schema keyword carrying the values to report in `allowedValues` (case variants hidden). */
const ALLOWED = 'x-allowed';

/** A string enum; `caseInsensitive` also accepts lower/upper-case spellings of each value. */
export function oneOf<T extends string>(values: readonly T[], caseInsensitive = false): TUnsafe<T> {
  const accepted = caseInsensitive
    ? [...new Set(values.flatMap((v) => [v, v.toLowerCase(), v.toUpperCase()]))]
    : [...values];
  return Type.Unsafe<T>({ type: 'string', enum: accepted, [ALLOWED]: values });
}

/**
 * Every parameter a task type's schema accepts, dotted for the members of `inputs`
 * (`inputs.seedImage`), without taskType and taskUUID: the docs table of what each engine
 * honours lists them.
 */
export function schemaParameters(schema: TSchema): string[] {
  const properties = (schema as { properties?: Record<string, TSchema> }).properties ?? {};
  return Object.entries(properties).flatMap(([name, member]) => {
    if (name === 'taskType' || name === 'taskUUID') return [];
    const inner = (member as { properties?: Record<string, TSchema> }).properties;
    return name === 'inputs' && inner ? Object.keys(inner).map((i) => `inputs.${i}`) : [name];
  });
}

/** The protocol's model identifier: `source:id@version`. */
export const AIR_PATTERN = '^[A-Za-z0-9_-]+:[A-Za-z0-9._-]+@[A-Za-z0-9._-]+$';
const AIR_HINT = "A model is named by its AIR, 'source:id@version' (for example 'runware:101@1').";

export type Validator<T> = (value: unknown) => T;

export function compileValidator<S extends TSchema>(schema: S): Validator<Static<S>> {
  const check: ValidateFunction = ajv.compile(schema);
  return (value: unknown) => {
    if (check(value)) return value;
    const problem = toProtocolError(check.errors?.[0]);
    // With `verbose`, Ajv's errors hold the offending value (`data`) and stay on the compiled
    // function until its next call: a multi-MB invalid prompt would stay in memory until then.
    check.errors = null;
    throw problem;
  };
}

const TYPE_NAMES: Record<string, string> = {
  integer: 'integer',
  number: 'float',
  string: 'string',
  boolean: 'boolean',
  object: 'object',
  array: 'array',
};

function toProtocolError(err: AjvError | undefined): ProtocolError {
  if (!err) return new ProtocolError('invalidPayload', { reason: 'the task object is not valid' });
  const path = err.instancePath
    .split('/')
    .filter((s) => s.length > 0)
    .map(unescapePointer);
  if (err.keyword === 'required') {
    const missing = (err.params as { missingProperty: string }).missingProperty;
    const parameter = [...path, missing].join('.');
    return new ProtocolError(
      missingCode(missing),
      { parameter },
      {
        parameter,
      },
    );
  }
  if (err.keyword === 'additionalProperties') {
    const extra = (err.params as { additionalProperty: string }).additionalProperty;
    const parameter = [...path, extra].join('.');
    return new ProtocolError('unsupportedParameter', { feature: `Parameter '${parameter}'` }, { parameter });
  }
  const parameter = path.join('.');
  const name = [...path].reverse().find((s) => !/^\d+$/.test(s)) ?? 'value';
  const schema = (err.parentSchema ?? {}) as Record<string, unknown>;
  const type = TYPE_NAMES[String(schema['type'])] ?? 'value';
  const code = invalidCode(name);
  const invalid = (reason: string, details: Omit<ErrorObject, 'code' | 'message'>) =>
    new ProtocolError(code, { parameter, reason }, details);

  const allowed = (schema[ALLOWED] ?? schema['enum']) as unknown[] | undefined;
  if (allowed) {
    return invalid(`Allowed values: ${allowed.map((v) => JSON.stringify(v)).join(', ')}.`, {
      parameter,
      type,
      allowedValues: allowed,
    });
  }
  if (
    type === 'string' &&
    (schema['minLength'] !== undefined || schema['maxLength'] !== undefined) &&
    err.keyword.endsWith('Length')
  ) {
    const min = schema['minLength'] as number | undefined;
    const max = schema['maxLength'] as number | undefined;
    return invalid(`It must be a string of ${rangeText(min, max)} characters.`, {
      parameter,
      type,
      min,
      max,
    });
  }
  if (type === 'array' && err.keyword.endsWith('Items')) {
    const min = schema['minItems'] as number | undefined;
    const max = schema['maxItems'] as number | undefined;
    return new ProtocolError(
      invalidCountCode(name),
      { name, reason: `It must hold ${rangeText(min, max)} elements.` },
      {
        parameter,
        type,
        min,
        max,
      },
    );
  }
  if (type === 'integer' || type === 'float') {
    const min = (schema['minimum'] ?? schema['exclusiveMinimum']) as number | undefined;
    const max = (schema['maximum'] ?? schema['exclusiveMaximum']) as number | undefined;
    const multiplier = schema['multipleOf'] as number | undefined;
    const article = type === 'integer' ? 'an integer' : 'a number';
    const step = multiplier !== undefined ? `, in multiples of ${multiplier}` : '';
    const range = min !== undefined || max !== undefined ? ` ${rangeWords(min, max)}` : '';
    return invalid(`It must be ${article}${range}${step}.`, { parameter, type, min, max, multiplier });
  }
  if (err.keyword === 'pattern') {
    // A string of the right type in the wrong shape: say which shape ("It must be a string" would mislead).
    const given = schema['x-format-hint'];
    const hint =
      typeof given === 'string'
        ? given
        : schema['pattern'] === AIR_PATTERN
          ? AIR_HINT
          : `It must match the pattern ${String(schema['pattern'])}.`;
    return invalid(hint, { parameter, type });
  }
  return invalid(`It must be ${article(type)}.`, { parameter, type });
}

function article(type: string): string {
  return type === 'integer' || type === 'array' || type === 'object' ? `an ${type}` : `a ${type}`;
}

function rangeText(min: number | undefined, max: number | undefined): string {
  if (min !== undefined && max !== undefined) return `${min} to ${max}`;
  if (min !== undefined) return `at least ${min}`;
  return `at most ${max}`;
}

function rangeWords(min: number | undefined, max: number | undefined): string {
  if (min !== undefined && max !== undefined) return `between ${min} and ${max}`;
  if (min !== undefined) return `of at least ${min}`;
  return `of at most ${max}`;
}

function unescapePointer(s: string): string {
  return s.replace(/~1/g, '/').replace(/~0/g, '~');
}
