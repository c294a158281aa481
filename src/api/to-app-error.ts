import { AppError, type ErrorCode } from '../errors.ts'

/** Any error a route or Fastify throws, as the AppError the API answers with (anything unknown is INTERNAL). */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err
  const e = err as { code?: string; statusCode?: number; validation?: unknown; message?: string }
  const map: Record<string, ErrorCode> = {
    FST_ERR_CTP_INVALID_JSON_BODY: 'MALFORMED_JSON',
    FST_ERR_CTP_EMPTY_JSON_BODY: 'MALFORMED_JSON',
    FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
    FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
    FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_REQUEST',
  }
  if (e.code && map[e.code]) return new AppError(map[e.code], { cause: err })
  if (e.validation) {
    // Ajv's message names the field and the rule, never the value sent.
    return new AppError('VALIDATION_FAILED', { cause: err, message: `The request does not match the expected schema: ${e.message}.` })
  }
  if (err instanceof SyntaxError && e.statusCode === 400) return new AppError('MALFORMED_JSON', { cause: err })
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) return new AppError('BAD_REQUEST', { cause: err })
  return new AppError('INTERNAL', { cause: err, details: e.message })
}

/** The cause of an error, for the node's log. */
export function describeCause(err: AppError): string {
  const c = err.cause as { message?: string; shortMessage?: string } | undefined
  return c ? `(cause: ${c.shortMessage ?? c.message ?? String(c)})` : ''
}
