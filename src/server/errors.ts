/**
 * OpenAI-style errors: every failure answers `{"error": {"message", "type", "param", "code"}}` with its HTTP status.
 */
export interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string = status >= 500 ? 'server_error' : 'invalid_request_error',
    readonly param: string | null = null,
    readonly code: string | null = null,
    /** Extra response headers (Retry-After on 429/503). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }

  body(): ErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** 400 for a field: its name is the error's `param`. */
export const badParam = (param: string, message: string, code: string | null = 'invalid_value'): ApiError =>
  new ApiError(400, message, 'invalid_request_error', param, code);

/** A request that asks for something this server does not do (yet): 400 naming the field. */
export const unsupported = (param: string, message: string): ApiError => new ApiError(400, message, 'invalid_request_error', param, 'unsupported_parameter');
