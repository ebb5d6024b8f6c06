// The API reference of /openapi.json (Swagger UI, served by the gateway itself).
// "Try it out" sends the key signed in to the console (this tab's session storage).
const key = sessionStorage.getItem("waport.key");
document.getElementById("signed-in").textContent = key
  ? "Requests use the key you signed in to the console with."
  : "Sign in to the console first to try requests with your key.";

window.ui = window.SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#reference",
  deepLinking: false,
  persistAuthorization: false,
  requestInterceptor: (request) => {
    const sameOrigin = new URL(request.url, location.href).origin === location.origin;
    if (key && sameOrigin && !request.headers.Authorization) {
      request.headers.Authorization = `Bearer ${key}`;
    }
    return request;
  },
});
