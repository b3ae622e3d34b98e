import { AjvCompiler } from '@fastify/ajv-compiler';
import type { FastifyServerOptions } from 'fastify';
import { notFound } from './errors.ts';

type BuildValidator = NonNullable<
  NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']
>['buildValidator'];
type Validate = ReturnType<ReturnType<ReturnType<typeof AjvCompiler>>>;

/** DRF's router matches ids as `[0-9]+`: `186.0`, `+186` or `1e2` name no resource, before any coercion. */
const PATH_ID = /^[0-9]+$/;

function integerProperties(schema: unknown): string[] {
  const properties = (schema as { properties?: Record<string, { type?: unknown }> }).properties ?? {};
  return Object.entries(properties)
    .filter(([, property]) => property.type === 'integer')
    .map(([name]) => name);
}

function digitsOnly(schema: unknown, validate: Validate): Validate {
  const ids = integerProperties(schema);
  if (ids.length === 0) return validate;
  const wrapped = ((data: Record<string, unknown>) => {
    if (ids.some((id) => typeof data?.[id] === 'string' && !PATH_ID.test(data[id] as string))) {
      return { error: notFound() };
    }
    const valid = validate(data);
    wrapped.errors = validate.errors;
    return valid;
  }) as unknown as Validate;
  return wrapped;
}

/**
 * Query strings and paths are text, so their numbers are parsed from strings (Fastify's default
 * coercion); bodies are JSON and get exactly the types their schema names, as DRF's serializers do:
 * `{"title": ["a"]}` is "Not a valid string.", not a task titled "a".
 */
export function validatorFactory(): BuildValidator {
  const pool = AjvCompiler();
  return (externalSchemas, options) => {
    const ajvOptions = options as Parameters<typeof pool>[1] & { customOptions?: object };
    const coercing = pool(externalSchemas, ajvOptions);
    const exact = pool(externalSchemas, {
      ...ajvOptions,
      customOptions: { ...ajvOptions?.customOptions, coerceTypes: false },
    } as Parameters<typeof pool>[1]);
    return (route) => {
      if (route.httpPart === 'body') return exact(route);
      if (route.httpPart === 'params') return digitsOnly(route.schema, coercing(route));
      return coercing(route);
    };
  };
}
