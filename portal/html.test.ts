import { test } from "node:test";
import assert from "node:assert/strict";
import { html, toHtml } from "./html.ts";

test("every interpolated value is escaped; nested templates are not escaped twice", () => {
  const evil = `<script>alert("x")</script>&'`;
  const inner = html`<b>${evil}</b>`;
  assert.equal(
    toHtml(html`<p title="${evil}">${inner}${[1, "<i>"]}${undefined}</p>`),
    `<p title="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;"><b>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;</b>1&lt;i&gt;</p>`,
  );
});
