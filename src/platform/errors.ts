import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import FindMyWay, { type HTTPMethod } from 'find-my-way';
import { pgErrorInfo } from './db/errors.ts';

/** DRF's body for errors that concern no single field. */
export interface Detail {
  detail: string;
  [extra: string]: unknown;
}

/** DRF's body for validation errors: each field's messages; cross-field ones under non_field_errors. */
export type FieldErrors = Record<string, string[]>;

/** An error whose status and body are what the client should see. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly body: Detail | FieldErrors,
    readonly headers: Record<string, string> = {},
  ) {
    super('detail' in body && typeof body.detail === 'string' ? body.detail : `HTTP ${statusCode}`);
    this.name = 'HttpError';
  }
}

export const notFound = () => new HttpError(404, { detail: 'Not found.' });
export const permissionDenied = (detail = 'You do not have permission to perform this action.') =>
  new HttpError(403, { detail });
export const invalid = (errors: FieldErrors) => new HttpError(400, errors);
export const fieldError = (field: string, message: string) => invalid({ [field]: [message] });

const TYPE_MESSAGES: Record<string, string> = {
  integer: 'A valid integer is required.',
  number: 'A valid number is required.',
  string: 'Not a valid string.',
  boolean: 'Must be a valid boolean.',
  array: 'Expected a list of items.',
  object: 'Expected a dictionary of items.',
  null: 'This field may not be null.',
};

const FORMAT_MESSAGES: Record<string, string> = {
  email: 'Enter a valid email address.',
  'date-time':
    'Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].',
  date: 'Date has wrong format. Use one of these formats instead: YYYY-MM-DD.',
  uri: 'Enter a valid URL.',
};

interface AjvError {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message?: string;
  data?: unknown;
  parentSchema?: { 'x-error-message'?: string; type?: unknown };
}

function describeType(value: unknown): string {
  if (value === null) return 'NoneType';
  if (Array.isArray(value)) return 'list';
  if (typeof value === 'string') return 'str';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float';
  if (typeof value === 'boolean') return 'bool';
  return typeof value;
}

/**
 * The value a client sent, for a message: short, and never String() of a list, which recurses
 * into nested lists (ten thousand deep overflowed the stack and made the error handler itself fail).
 */
function choiceText(value: unknown): string {
  if (value === null || typeof value !== 'object') return String(value);
  try {
    const text = JSON.stringify(value);
    return text.length > 100 ? `${text.slice(0, 100)}…` : text;
  } catch {
    return describeType(value);
  }
}

function messageFor(error: AjvError): string {
  const custom = error.parentSchema?.['x-error-message'];
  if (custom !== undefined && error.keyword !== 'required') return custom;
  const params = error.params;
  switch (error.keyword) {
    case 'required':
      return 'This field is required.';
    case 'type': {
      const expected = String(params.type).split(',')[0] ?? '';
      if (error.data === null) return 'This field may not be null.';
      return TYPE_MESSAGES[expected] ?? `Expected ${expected}.`;
    }
    case 'minLength':
      return params.limit === 1
        ? 'This field may not be blank.'
        : `Ensure this field has at least ${String(params.limit)} characters.`;
    case 'maxLength':
      return `Ensure this field has no more than ${String(params.limit)} characters.`;
    case 'minimum':
      return `Ensure this value is greater than or equal to ${String(params.limit)}.`;
    case 'maximum':
      return `Ensure this value is less than or equal to ${String(params.limit)}.`;
    case 'enum':
    case 'const':
      return `"${choiceText(error.data)}" is not a valid choice.`;
    case 'format':
      return FORMAT_MESSAGES[String(params.format)] ?? 'Enter a valid value.';
    default:
      return error.message ?? 'Invalid value.';
  }
}

/** Turns the validator's errors into DRF's `{field: [messages]}`. */
export function fieldErrorsFromValidation(errors: AjvError[]): FieldErrors {
  const result: FieldErrors = {};
  for (const error of errors) {
    // anyOf/oneOf report each branch and then themselves: the branches already said it.
    if (error.keyword === 'anyOf' || error.keyword === 'oneOf' || error.keyword === 'if') continue;
    const field =
      error.instancePath.split('/').filter(Boolean)[0] ??
      (error.keyword === 'required' ? String(error.params.missingProperty) : 'non_field_errors');
    const message =
      field === 'non_field_errors' && error.keyword === 'type' && error.params.type === 'object'
        ? `Invalid data. Expected a dictionary, but got ${describeType(error.data)}.`
        : messageFor(error);
    const list = result[field] ?? [];
    if (!list.includes(message)) result[field] = [...list, message];
  }
  return result;
}

const CLIENT_ERROR_MESSAGES: Record<string, (error: FastifyError, request: FastifyRequest) => Detail> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: (_e, request) => ({
    detail: `Unsupported media type "${request.headers['content-type'] ?? ''}" in request.`,
  }),
  FST_ERR_CTP_BODY_TOO_LARGE: () => ({ detail: 'Request body is too large (the limit is 1 MB).' }),
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () => ({ detail: 'Request body size did not match Content-Length.' }),
  FST_ERR_CTP_EMPTY_JSON_BODY: () => ({ detail: 'JSON parse error - the body is empty.' }),
  FST_ERR_CTP_INVALID_JSON_BODY: () => ({ detail: 'JSON parse error - the body is not valid JSON.' }),
};

/** SQLSTATE classes that mean the database could not be reached, not that the request was wrong. */
export function isDatabaseUnavailable(error: unknown): boolean {
  const info = pgErrorInfo(error);
  if (info !== undefined) return info.code.startsWith('08') || info.code === '57P01' || info.code === '57P03';
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const code = (current as NodeJS.ErrnoException).code;
    if (code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'ETIMEDOUT' || code === 'EPIPE') return true;
    // "not queryable": a statement on a client whose connection the server dropped mid-transaction.
    if (/Connection terminated|timeout exceeded when trying to connect|is not queryable/i.test(current.message)) {
      return true;
    }
    current = (current as Error & { cause?: unknown }).cause;
  }
  return false;
}

function send(reply: FastifyReply, status: number, body: object, headers: Record<string, string> = {}) {
  // Error bodies bypass the route's response schema: they have their own shape.
  return reply
    .code(status)
    .headers(headers)
    .type('application/json; charset=utf-8')
    .serializer(JSON.stringify)
    .send(body);
}

/**
 * Every failure, the framework's included, answers in DRF's shape. Nothing from a 5xx reaches the
 * client but a generic message; the log has the rest.
 */
export function registerErrorHandling(app: FastifyInstance) {
  const known = FindMyWay({ ignoreTrailingSlash: true });
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      if (method === 'HEAD') continue;
      try {
        known.on(method as HTTPMethod, route.url, () => {});
      } catch {
        // the same method and path registered twice (HEAD/GET pairs): once is enough here
      }
    }
  });

  /**
   * The methods a path takes, as DRF's router sees it: an id is `[0-9]+`, so `/api/tasks/abc/`
   * names nothing, and a fixed path (`/api/tasks/my_tasks/`) is never read as an id.
   */
  const allowedMethods = (url: string) => {
    const matches = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].flatMap((method) => {
      const found = known.find(method as HTTPMethod, url);
      if (found === null) return [];
      const params = found.params as Record<string, string | undefined>;
      if (params.id !== undefined && !/^[0-9]+$/.test(params.id)) return [];
      return [{ method, fixed: Object.keys(params).length === 0 }];
    });
    const fixed = matches.filter((match) => match.fixed);
    return (fixed.length > 0 ? fixed : matches).map((match) => match.method);
  };

  /** No route took the request: 404, or 405 with Allow when the path exists for other methods. */
  const unrouted = (request: FastifyRequest, reply: FastifyReply) => {
    const allowed = allowedMethods(request.url.split('?')[0] ?? '/');
    // A route that takes this method sent it here itself (a static file that is not there): not found.
    const method = request.method === 'HEAD' ? 'GET' : request.method;
    // DRF answers OPTIONS on every view with what it takes; here that is the methods and JSON.
    if (allowed.length > 0 && method === 'OPTIONS') {
      return send(
        reply,
        200,
        { renders: ['application/json'], parses: ['application/json'] },
        { allow: [...allowed, 'OPTIONS'].join(', ') },
      );
    }
    if (allowed.length > 0 && !allowed.includes(method)) {
      return send(
        reply,
        405,
        { detail: `Method "${request.method}" not allowed.` },
        {
          allow: [...allowed, 'OPTIONS'].join(', '),
        },
      );
    }
    return send(reply, 404, { detail: 'Not found.' });
  };
  app.setNotFoundHandler(unrouted);

  app.setErrorHandler((error: FastifyError, request, reply) => {
    // A path parameter that does not fit (an id that is no number) is a URL that does not exist
    // for this method: `DELETE /api/tasks/my_tasks/` is that action's 405, `/api/tasks/1.0/` a 404.
    if (error.validationContext === 'params') return unrouted(request, reply);
    if (error instanceof HttpError) return send(reply, error.statusCode, error.body, error.headers);
    if (error.validation !== undefined) {
      return send(reply, 400, fieldErrorsFromValidation(error.validation as unknown as AjvError[]));
    }
    const described = error.code === undefined ? undefined : CLIENT_ERROR_MESSAGES[error.code];
    if (described !== undefined) return send(reply, error.statusCode ?? 400, described(error, request));
    if (error instanceof SyntaxError || error.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
      return send(reply, 400, { detail: `JSON parse error - ${error.message}` });
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) return send(reply, status, { detail: error.message });
    if (isDatabaseUnavailable(error)) {
      request.log.warn({ err: error }, 'database unavailable');
      return send(
        reply,
        503,
        { detail: 'Service temporarily unavailable, try again shortly.' },
        { 'retry-after': '1' },
      );
    }
    const info = pgErrorInfo(error);
    if (info !== undefined && (info.code.startsWith('22') || info.code.startsWith('23'))) {
      // Validation should have caught this; the database's refusal is still the client's input.
      request.log.warn({ err: error }, 'input refused by the database');
      return send(reply, 400, { detail: 'Invalid input.' });
    }
    request.log.error({ err: error }, 'unhandled error');
    return send(reply, 500, { detail: 'A server error occurred.' });
  });
}
