// The OpenAPI area's entry point for pages (portal/): the document's read model for the API
// reference page. The document itself is built by @fastify/swagger with document.ts's transform.
export {
  referenceOf,
  type Field,
  type OpenApiDocument,
  type Reference,
  type RefGroup,
  type RefOperation,
  type Shape,
} from "./reference.ts";
