// The few typed errors every edge throws. One Fastify error handler (api/app.ts) maps them to
// HTTP; the operator maps them to conditions. Each carries a `cause` where one exists.
export class AppError extends Error {
  readonly status: number = 500;
  /** Machine-readable reason (CamelCase), e.g. "SeparationOfDuties". */
  readonly reason: string | undefined;
  /** Extra fields safe to show the caller (never secrets), e.g. the audit row SoD quotes. */
  readonly details: Record<string, unknown> | undefined;
  constructor(
    message: string,
    opts: { cause?: unknown; reason?: string; details?: Record<string, unknown> } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.reason = opts.reason;
    this.details = opts.details;
  }
}
/** 400: the request is malformed (bad JSON, wrong types, missing fields). */
export class InputError extends AppError {
  override readonly status: number = 400;
}
/** 422: well-formed but semantically refused (e.g. the API server's schema says no). */
export class UnprocessableError extends InputError {
  override readonly status = 422;
}
export class UnauthenticatedError extends AppError {
  override readonly status = 401;
}
export class ForbiddenError extends AppError {
  override readonly status = 403;
}
/** 404: missing, and also out of the caller's scope (scoped objects look exactly like missing ones). */
export class NotFoundError extends AppError {
  override readonly status = 404;
}
export class ConflictError extends AppError {
  override readonly status = 409;
}
/** 410: it existed, and is gone for good (a one-time value revealed or expired). */
export class GoneError extends AppError {
  override readonly status = 410;
}
export class PreconditionFailedError extends AppError {
  override readonly status = 412;
}
export class TooManyRequestsError extends AppError {
  override readonly status = 429;
}
export class UnavailableError extends AppError {
  override readonly status = 503;
}
/** A bad configuration value at start-up: the message lists every bad variable. */
export class ConfigError extends Error {
  override name = "ConfigError";
}
