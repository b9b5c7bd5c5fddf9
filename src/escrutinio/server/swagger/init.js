// escrutinio: starts Swagger UI on this server's spec (a file, not an inline script,
// so that the Content-Security-Policy can forbid inline scripts on /docs too)
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
});
