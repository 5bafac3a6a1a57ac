import { test } from "node:test";
import assert from "node:assert/strict";
import { ApiException } from "@kubernetes/client-node";
import {
  ConflictError,
  ForbiddenError,
  NotFoundError,
  UnavailableError,
  UnprocessableError,
} from "../../record/errors.ts";
import { translateKubeError } from "./client.ts";

const status = (code: number, message: string, reason: string) =>
  new ApiException(
    code,
    "Unsuccessful HTTP Request",
    JSON.stringify({ kind: "Status", code, message, reason }),
    {},
  );

const cases: { code: number; reason: string; want: new (...a: never[]) => Error }[] = [
  { code: 404, reason: "NotFound", want: NotFoundError },
  { code: 409, reason: "AlreadyExists", want: ConflictError },
  { code: 422, reason: "Invalid", want: UnprocessableError },
  { code: 400, reason: "BadRequest", want: UnprocessableError },
  { code: 403, reason: "Forbidden", want: ForbiddenError },
  { code: 429, reason: "TooManyRequests", want: UnavailableError },
  { code: 500, reason: "InternalError", want: UnavailableError },
  { code: 503, reason: "ServiceUnavailable", want: UnavailableError },
];
for (const c of cases) {
  test(`API server ${c.code} ${c.reason} becomes ${c.want.name}, keeping the server's message`, () => {
    const err = translateKubeError(status(c.code, `the server says ${c.code}`, c.reason), "testing");
    assert.ok(err instanceof c.want, `got ${String(err)}`);
    assert.equal(err.message, `the server says ${c.code}`);
  });
}

test("a refused connection is Unavailable; anything else passes through untouched", () => {
  const refused = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
  assert.ok(translateKubeError(refused, "listing") instanceof UnavailableError);
  const bug = new TypeError("x is not a function");
  assert.equal(translateKubeError(bug, "listing"), bug);
});
