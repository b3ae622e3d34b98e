import { Type } from '@sinclair/typebox';

/** The DRF error shapes, for the OpenAPI document: the error handler writes the bodies. */
const ErrorBody = (description: string) =>
  Type.Object({ detail: Type.Optional(Type.String()) }, { additionalProperties: true, description });

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Validation failed: {"<field>": ["message", ...]} (cross-field problems under non_field_errors), or {"detail"} for a body that is not JSON',
  401: 'No credentials, or credentials that are invalid or expired: {"detail", "code"?}',
  403: 'Authenticated but not allowed: {"detail"}',
  404: 'Not found, or not in the caller’s company: {"detail"}',
  412: 'The resource changed since the ETag given in If-Match: {"detail"}',
  429: 'Throttled; Retry-After says when to try again: {"detail"}',
};

export function errorResponses(...codes: number[]) {
  return Object.fromEntries(codes.map((code) => [code, ErrorBody(ERROR_DESCRIPTIONS[code] ?? 'Error')]));
}

/** Ids are PostgreSQL integers: anything else cannot name a row, so it is a 404 like DRF's URL patterns. */
export const IdParams = Type.Object({ id: Type.Integer({ minimum: 1, maximum: 2_147_483_647 }) });
