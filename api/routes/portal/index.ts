// Route area: portal pages (issue #5). The pages and their templates live in portal/ (STYLE:
// portal → api); this file only names the plugin app.ts registers.
export { portalRoutes } from "../../../portal/routes.ts";
