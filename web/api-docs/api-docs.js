// Starts Swagger UI on the Worker's OpenAPI document. validatorUrl: null, or Swagger UI sends the document to
// validator.swagger.io for its badge; nothing on this page may leave the Worker's origin.
window.ui = SwaggerUIBundle({
  url: "/api/v1/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
