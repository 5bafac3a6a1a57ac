// Lint config: typescript-eslint's type-aware recommended rules plus the house rules
// from STYLE.md that a machine can check (no enums/namespaces, named exports only,
// no empty catch).
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/**", "**/*.js", "**/*.mjs"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "no-restricted-syntax": [
        "error",
        {
          selector: "TSEnumDeclaration",
          message: "Use a string-literal union or an `as const` object (STYLE.md).",
        },
        { selector: "TSModuleDeclaration[kind='namespace']", message: "No namespaces (STYLE.md)." },
        { selector: "TSParameterProperty", message: "No parameter properties (STYLE.md)." },
        { selector: "ExportDefaultDeclaration", message: "Named exports only (STYLE.md)." },
        {
          selector: "CatchClause > BlockStatement[body.length=0]",
          message: "Never write an empty catch: handle, translate or rethrow (STYLE.md).",
        },
      ],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-floating-promises": [
        "error",
        {
          allowForKnownSafeCalls: [
            { from: "package", name: ["test", "it", "describe", "suite"], package: "node:test" },
          ],
        },
      ],
      "@typescript-eslint/require-await": "off",
      "@typescript-eslint/restrict-template-expressions": [
        "error",
        { allowNumber: true, allowBoolean: true },
      ],
    },
  },
);
