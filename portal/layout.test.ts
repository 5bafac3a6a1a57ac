import { test } from "node:test";
import assert from "node:assert/strict";
import { markdown } from "./layout.ts";

test("markdown help: formatting yes, raw HTML and javascript: links no", () => {
  const out = markdown(
    '**bold** <img src=x onerror="alert(1)"> [x](javascript:alert(1)) [ok](https://a.example)',
  ).__html;
  assert.match(out, /<strong>bold<\/strong>/);
  assert.doesNotMatch(out, /<img/);
  assert.doesNotMatch(out, /href="javascript:/);
  assert.match(out, /href="https:\/\/a.example"/);
});
